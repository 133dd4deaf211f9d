"""run_backtest end to end on small ITCH streams written for each test."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from whistle.bench.feed import (
    OP_ADD,
    OP_DELETE,
    OP_EXECUTE,
    SyntheticOp,
    itch_bytes,
    synthetic_ops,
)
from whistle.book.mbo import MarketByOrderBook
from whistle.core.enums import TimeInForce
from whistle.feed import TruncatedFileError
from whistle.trading.backtest import BacktestConfig, BacktestError, LatencyConfig
from whistle.trading.backtest.errors import BacktestConfigError
from whistle.trading.backtest.runner import run_backtest
from whistle.trading.errors import StrategyError
from whistle.trading.examples import MarketMaker, Noop
from whistle.trading.messages import MarketEvent, OrderUpdate, RiskReason, UpdateKind
from whistle.trading.strategy import BookView, Strategy

if TYPE_CHECKING:
    from pathlib import Path

    from whistle.trading.context import Context

SYM = "WHSTL"
T0 = 34_200_000_000_000


def write(tmp_path: Path, ops: list[SyntheticOp], name: str = "s.itch") -> str:
    path = tmp_path / name
    path.write_bytes(itch_bytes(ops, symbol=SYM))
    return str(path)


def config(path: str, **kw: Any) -> BacktestConfig:
    return BacktestConfig(data=path, symbol=SYM, **kw)


def add(ts: int, ref: int, side: bytes, qty: int, price: int) -> SyntheticOp:
    return SyntheticOp(OP_ADD, ts, ref, side, qty, price, 0)


def execute(ts: int, ref: int, qty: int) -> SyntheticOp:
    return SyntheticOp(OP_EXECUTE, ts, ref, b"B", qty, 0, 0)


def delete(ts: int, ref: int) -> SyntheticOp:
    return SyntheticOp(OP_DELETE, ts, ref, b"B", 0, 0, 0)


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("bt") / "synthetic.itch"
    path.write_bytes(itch_bytes(synthetic_ops(3_000, 7), symbol=SYM))
    return str(path)


def test_same_data_strategy_config_give_byte_identical_fills(stream: str) -> None:
    cfg = config(stream, latency=LatencyConfig(feed_ns=2_000, entry_ns=5_000, ack_ns=3_000))
    a = run_backtest(cfg, MarketMaker())
    b = run_backtest(cfg, MarketMaker())
    assert len(a.fills) > 50
    enc = msgspec.json.encode
    assert enc(a.fills) == enc(b.fills)
    assert enc(a.timeline) == enc(b.timeline)
    assert a.ledger == b.ledger
    assert a.order_to_fill_ns == b.order_to_fill_ns
    d = a.as_dict()
    assert d["fills"] == len(a.fills)
    assert set(d["pnl"]) == {"realised", "unrealised", "fees", "total"}
    assert msgspec.json.decode(msgspec.json.encode(d)) == d  # JSON-safe
    assert a.timeline[-1].ts_ns >= a.last_ts_ns  # the final sample
    assert d["pnl"]["total"] == a.timeline[-1].equity_tl


def test_latency_changes_the_fills(stream: str) -> None:
    fast = run_backtest(config(stream), MarketMaker())
    slow = run_backtest(config(stream, latency=LatencyConfig(entry_ns=50_000_000)), MarketMaker())
    assert msgspec.json.encode(fast.fills) != msgspec.json.encode(slow.fills)


class Raiser(Strategy):
    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def on_book(self, ctx: Context, book: BookView) -> None:
        self.n += 1
        if self.n == 50:
            raise ZeroDivisionError("boom")


def test_a_strategy_that_raises_gives_no_result(stream: str) -> None:
    with pytest.raises(BacktestError, match="on_book") as info:
        run_backtest(config(stream), Raiser())
    assert isinstance(info.value.__cause__, StrategyError)
    assert isinstance(info.value.__cause__.cause, ZeroDivisionError)


def test_a_feed_that_ends_mid_message_gives_no_result(tmp_path: Path) -> None:
    data = itch_bytes(synthetic_ops(2_000, 3), symbol=SYM)
    path = tmp_path / "cut.itch"
    path.write_bytes(data[:-10])  # inside the last message
    with pytest.raises(BacktestError, match="market data") as info:
        run_backtest(config(str(path)), Noop())
    assert isinstance(info.value.__cause__, TruncatedFileError)


def test_missing_file_and_unknown_symbol_and_bad_config(tmp_path: Path, stream: str) -> None:
    with pytest.raises(BacktestError, match="cannot open"):
        run_backtest(config(str(tmp_path / "none.itch")), Noop())
    with pytest.raises(BacktestError, match="no events for symbol"):
        run_backtest(BacktestConfig(data=stream, symbol="NOPE"), Noop())
    with pytest.raises(BacktestConfigError, match="queue_model"):
        run_backtest(config(stream, queue_model="magic"), Noop())
    with pytest.raises(BacktestConfigError, match="feed_ns"):
        run_backtest(config(stream, latency=LatencyConfig(feed_ns=-1)), Noop())
    with pytest.raises(BacktestConfigError, match="sample_every_ns"):
        run_backtest(config(stream, sample_every_ns=0), Noop())
    with pytest.raises(BacktestConfigError, match="unknown"):
        BacktestConfig.from_dict({"data": stream, "symbol": SYM, "queue_modle": "fifo"})
    with pytest.raises(BacktestConfigError, match="max_order_qty"):
        run_backtest(config(stream, risk={"default": {"max_order_qty": "x"}}), Noop())


class BboCounter(Strategy):
    def __init__(self) -> None:
        super().__init__()
        self.tops: list[tuple[int, int, int, int]] = []

    def on_bbo(self, ctx: Context, book: BookView) -> None:
        self.tops.append(book.top())


def test_bbo_subscriber_is_called_exactly_on_top_of_book_changes(stream: str) -> None:
    import whistle.feed

    expected: list[tuple[int, int, int, int]] = []
    book = MarketByOrderBook()
    view = BookView()
    last = (0, 0, 0, 0)
    for e in whistle.feed.open(stream, "itch", [SYM]):
        if type(e).__name__ == "MboInstrument":
            continue
        book.apply(e)
        view.load_book(book, e.ts_ns)
        if view.top() != last:
            last = view.top()
            expected.append(last)
    s = BboCounter()
    result = run_backtest(config(stream), s)
    assert s.tops == expected
    assert len(expected) < result.events  # deep-level changes did not call it


class Taker(Strategy):
    """Buys 50 IOC at 101 on the first book event; records what it hears and when."""

    def __init__(self) -> None:
        super().__init__()
        self.heard: list[tuple[int, UpdateKind, int, int]] = []
        self.sent = False

    def on_book(self, ctx: Context, book: BookView) -> None:
        if not self.sent and book.best_ask:
            self.sent = True
            ctx.buy(50, book.best_ask, tif=TimeInForce.IOC)

    def on_order_update(self, ctx: Context, update: OrderUpdate) -> None:
        self.heard.append((ctx.now_ns, update.kind, update.fill_qty, update.ts_ns))


def test_entry_and_ack_latency_place_the_fill_and_its_report(tmp_path: Path) -> None:
    ops = [
        add(T0, 1, b"S", 100, 1_010_000),
        add(T0 + 10_000, 2, b"B", 100, 1_000_000),  # the strategy sees this one at +1_000
        delete(T0 + 12_000, 1),  # the ask goes before our buy arrives (T0+10_000+1_000+2_500)?
    ]
    lat = LatencyConfig(feed_ns=1_000, entry_ns=2_500, ack_ns=700, risk_ns=300)
    s = Taker()
    result = run_backtest(config(write(tmp_path, ops), latency=lat), s)
    # Sent at T0 + 1_000 (the first event, seen after the feed latency); risk takes 300,
    # it arrives at the exchange at T0 + 3_800 and takes the 50 then; acks 700 ns later.
    arrive = T0 + 1_000 + 300 + 2_500
    assert [(f.ts_ns, f.qty, f.price) for f in result.fills] == [(arrive, 50, 1_010_000)]
    assert s.heard[0] == (arrive + 700, UpdateKind.ACCEPTED, 0, arrive)
    assert s.heard[1] == (arrive + 700, UpdateKind.FILLED, 50, arrive)
    assert result.order_to_fill_ns == [2_800]


def test_an_order_that_arrives_after_the_liquidity_left_does_not_fill(tmp_path: Path) -> None:
    ops = [
        add(T0, 1, b"S", 100, 1_010_000),
        delete(T0 + 3_000, 1),  # gone before the order arrives at T0 + 3_500
        add(T0 + 10_000, 2, b"B", 100, 1_000_000),
    ]
    lat = LatencyConfig(feed_ns=1_000, entry_ns=2_500, ack_ns=700, risk_ns=0)
    s = Taker()
    result = run_backtest(config(write(tmp_path, ops), latency=lat), s)
    assert result.fills == []
    assert [k for _, k, _, _ in s.heard] == [UpdateKind.ACCEPTED, UpdateKind.CANCELLED]


class Quoter(Strategy):
    """Joins the bid at 100.00 behind the recorded queue on its first event."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = False
        self.fills: list[tuple[int, int]] = []

    def on_book(self, ctx: Context, book: BookView) -> None:
        if not self.sent:
            self.sent = True
            ctx.buy(100, 1_000_000, tif=TimeInForce.GTC)

    def on_order_update(self, ctx: Context, update: OrderUpdate) -> None:
        if update.kind == UpdateKind.FILLED:
            self.fills.append((update.ts_ns, update.fill_qty))


def test_queue_position_through_the_runner(tmp_path: Path) -> None:
    # 300 lots rest at 100.00 before the strategy's bid arrives; it fills on the first
    # execution after those 300 are gone (executed 200, deleted 100), not before.
    ops = [
        add(T0, 1, b"B", 200, 1_000_000),
        add(T0 + 1, 2, b"B", 100, 1_000_000),
        add(T0 + 2, 9, b"S", 100, 1_010_000),
        add(T0 + 1_000, 3, b"B", 500, 1_000_000),  # behind the strategy
        execute(T0 + 2_000, 1, 200),
        execute(T0 + 3_000, 3, 40),  # 100 still ahead: order 3 cannot be executing...
        delete(T0 + 4_000, 2),
        execute(T0 + 5_000, 3, 60),
    ]
    s = Quoter()
    result = run_backtest(
        config(write(tmp_path, ops), latency=LatencyConfig(entry_ns=10, risk_ns=0)), s
    )
    # ...but in the record it did: an execution behind us while 100 are still counted
    # ahead goes FIFO: the 40 eat into what is ahead; then the 60 fill us.
    assert [(f.ts_ns, f.qty) for f in result.fills] == [(T0 + 5_000, 60)]
    assert s.fills == [(T0 + 5_000, 60)]


class TimerStrategy(Strategy):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, int, int]] = []

    def on_start(self, ctx: Context) -> None:
        ctx.set_timer(T0 + 1_500, 7)
        ctx.set_timer(T0 + 99_999_999, 8)  # after the data: never fires

    def on_book(self, ctx: Context, book: BookView) -> None:
        self.calls.append(("book", ctx.now_ns, book.ts_ns))

    def on_timer(self, ctx: Context, tag: int) -> None:
        self.calls.append(("timer", ctx.now_ns, tag))


def test_timers_fire_in_time_order_between_events(tmp_path: Path) -> None:
    ops = [add(T0 + i * 1_000, i + 1, b"B", 100, 1_000_000 - i * 100) for i in range(3)]
    s = TimerStrategy()
    run_backtest(config(write(tmp_path, ops), latency=LatencyConfig(feed_ns=100)), s)
    assert s.calls == [
        ("book", T0 + 100, T0),
        ("book", T0 + 1_100, T0 + 1_000),
        ("timer", T0 + 1_500, 7),
        ("book", T0 + 2_100, T0 + 2_000),
    ]


class BigBuyer(Strategy):
    def __init__(self) -> None:
        super().__init__()
        self.updates: list[OrderUpdate] = []

    def on_book(self, ctx: Context, book: BookView) -> None:
        if not self.updates and not ctx.open_orders:
            ctx.buy(5, 1_000_000)

    def on_order_update(self, ctx: Context, update: OrderUpdate) -> None:
        self.updates.append(update)


def test_risk_refusals_come_back_as_rejected_updates(tmp_path: Path) -> None:
    ops = [add(T0 + i, i + 1, b"S", 100, 1_010_000) for i in range(3)]
    s = BigBuyer()
    result = run_backtest(config(write(tmp_path, ops), risk={"default": {"max_order_qty": 2}}), s)
    assert result.rejects == {"MAX_ORDER_QTY": 1}
    assert result.orders == 0
    assert [(u.kind, u.reason) for u in s.updates] == [
        (UpdateKind.REJECTED, RiskReason.MAX_ORDER_QTY)
    ]
    assert s.updates[0].ts_ns == T0 + 1_000  # the refusal comes after the risk latency


class Pinger(Strategy):
    """Answers every refusal by sending the same order again (a livelock at zero latency)."""

    def on_book(self, ctx: Context, book: BookView) -> None:
        if not ctx.open_orders:
            ctx.buy(5, 1_000_000)

    def on_order_update(self, ctx: Context, update: OrderUpdate) -> None:
        if update.kind == UpdateKind.REJECTED:
            ctx.buy(5, 1_000_000)


def test_a_strategy_that_stops_time_is_an_error_not_a_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import whistle.trading.backtest.runner as runner

    monkeypatch.setattr(runner, "_END_LIMIT", 2_000)  # 1,000,000 by default: a long wait here
    ops = [add(T0 + i, i + 1, b"S", 100, 1_010_000) for i in range(3)]
    cfg = config(
        write(tmp_path, ops),
        risk={"default": {"max_order_qty": 2}},
        latency=LatencyConfig(risk_ns=0),
    )
    with pytest.raises(BacktestError, match="does not let time pass"):
        run_backtest(cfg, Pinger())


class TradeWatcher(Strategy):
    def __init__(self) -> None:
        super().__init__()
        self.trades: list[MarketEvent] = []

    def on_trade(self, ctx: Context, trade: MarketEvent) -> None:
        self.trades.append(trade)


def test_trade_subscribers_get_each_execution(tmp_path: Path) -> None:
    ops = [add(T0, 1, b"B", 200, 1_000_000), execute(T0 + 5, 1, 30), execute(T0 + 9, 1, 70)]
    s = TradeWatcher()
    run_backtest(config(write(tmp_path, ops)), s)
    assert [(t.ts_ns, t.price, t.qty) for t in s.trades] == [
        (T0 + 5, 1_000_000, 30),
        (T0 + 9, 1_000_000, 70),
    ]


def test_progress_and_max_events(stream: str) -> None:
    seen: list[tuple[int, int]] = []
    result = run_backtest(
        config(stream, max_events=1_000), Noop(), progress=lambda a, b: seen.append((a, b))
    )
    assert result.events == 1_000
    assert seen[-1] == (1_000, 1_000)


class BadPrice(Strategy):
    def on_start(self, ctx: Context) -> None:
        ctx.buy(1, 100.5)  # type: ignore[arg-type]


class BadStop(Strategy):
    def on_stop(self, ctx: Context) -> None:
        raise RuntimeError("cannot stop")


@pytest.mark.parametrize(("strategy", "callback"), [(BadPrice, "on_start"), (BadStop, "on_stop")])
def test_hostile_strategies_give_no_result(
    stream: str, strategy: type[Strategy], callback: str
) -> None:
    with pytest.raises(BacktestError, match=callback):
        run_backtest(config(stream, max_events=200), strategy())


class Flooder(Strategy):
    """Sends a new order on every book event: the order-rate limit refuses the excess."""

    def on_book(self, ctx: Context, book: BookView) -> None:
        ctx.buy(1, 900_000)


def test_a_flooding_strategy_is_refused_by_the_rate_limit(stream: str) -> None:
    cfg = config(stream, max_events=2_000, risk={"default": {"max_order_rate": 5}})
    result = run_backtest(cfg, Flooder())
    assert result.rejects.get("ORDER_RATE", 0) > 1_000
    assert 0 < result.orders < 100


class Exits(Strategy):
    def on_book(self, ctx: Context, book: BookView) -> None:
        raise SystemExit(0)


def test_system_exit_in_a_callback_is_a_backtest_error(stream: str) -> None:
    with pytest.raises(BacktestError, match="SystemExit"):
        run_backtest(config(stream), Exits())


def test_bad_book_policy_is_a_config_error(stream: str) -> None:
    with pytest.raises(BacktestConfigError, match="book_policy"):
        run_backtest(config(stream, feed_options={"book_policy": "whatever"}), Noop())


class CancelFast(Strategy):
    """Sends a buy and at once its cancel: the cancel is faster than the entry."""

    def __init__(self) -> None:
        super().__init__()
        self.kinds: list[UpdateKind] = []

    def on_book(self, ctx: Context, book: BookView) -> None:
        if not self.kinds and not ctx.open_orders:
            coid = ctx.buy(10, 1_000_000, tif=TimeInForce.GTC)
            ctx.cancel(coid)

    def on_order_update(self, ctx: Context, update: OrderUpdate) -> None:
        self.kinds.append(update.kind)


def test_a_cancel_never_overtakes_its_own_order(tmp_path: Path) -> None:
    ops = [add(T0, 1, b"S", 100, 1_010_000), add(T0 + 10_000, 2, b"B", 1, 990_000)]
    lat = LatencyConfig(entry_ns=5_000, cancel_ns=10, risk_ns=0)
    s = CancelFast()
    result = run_backtest(config(write(tmp_path, ops), latency=lat), s)
    assert s.kinds[:2] == [UpdateKind.ACCEPTED, UpdateKind.CANCELLED]
    assert result.open_orders == 0


def test_a_fill_in_a_quiet_gap_is_heard_before_the_next_recorded_event(tmp_path: Path) -> None:
    ops = [
        add(T0, 1, b"S", 100, 1_010_000),
        add(T0 + 1_000_000, 2, b"B", 1, 990_000),  # long after
    ]
    s = Taker()
    run_backtest(config(write(tmp_path, ops), latency=LatencyConfig(ack_ns=100, risk_ns=0)), s)
    assert [(t, k) for t, k, _, _ in s.heard] == [
        (T0 + 100, UpdateKind.ACCEPTED),
        (T0 + 100, UpdateKind.FILLED),
    ]
