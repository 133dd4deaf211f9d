"""Property test: the risk engine against a naive reference that recomputes every rule from
the full list of open orders, with the token bucket in exact fractions of a token.

Random streams mix good and bad signals from two accounts on two symbols, fills, cancels,
rejects, modifies, book and trade events, disconnects, kills and resets; after every step
the decision, the returned cancels, positions and open orders must agree."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from property.strategies import PROFILE
from whistle.core.enums import Side, TimeInForce
from whistle.trading.messages import (
    ZERO_LEVELS,
    MarketEvent,
    MarketKind,
    Order,
    OrderUpdate,
    RiskDecision,
    RiskReason,
    SignalEvent,
    SignalKind,
    UpdateKind,
)
from whistle.trading.risk import RiskConfig, RiskEngine, RiskLimits

HALF = settings(PROFILE, max_examples=max(PROFILE.max_examples // 2, 10))

SYMBOLS = {1: "AAA", 2: "BBB"}
R = RiskReason


@dataclass
class Open:
    coid: int
    account: int
    symbol: int
    side: int
    price: int
    qty: int
    accepted: bool = False
    prev: tuple[int, int] | None = None


class Reference:
    """The rules of whistle.trading.risk's docstring, written the slow, obvious way."""

    def __init__(self, config: RiskConfig) -> None:
        self.config = config
        self.orders: list[Open] = []
        self.position: dict[tuple[int, int], int] = {}
        self.buckets: dict[tuple[int, int], tuple[Fraction, int | None]] = {}
        self.mid_x2: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.killed = False

    def limits(self, account, symbol) -> RiskLimits:
        return self.config.effective(SYMBOLS[symbol], account)

    def find(self, coid, symbol) -> Open | None:
        return next((o for o in self.orders if o.coid == coid and o.symbol == symbol), None)

    def check(self, s: SignalEvent, account: int, now: int) -> RiskReason:
        if s.symbol_id not in SYMBOLS or s.client_order_id <= 0:
            return R.MALFORMED
        if s.kind in (SignalKind.BUY, SignalKind.SELL):
            if s.qty <= 0 or s.price <= 0 or self.find(s.client_order_id, s.symbol_id):
                return R.MALFORMED
            if self.killed:
                return R.KILL_SWITCH
            side = Side.BUY if s.kind == SignalKind.BUY else Side.SELL
            reason = self.rules(account, s.symbol_id, side, s.price, s.qty, None, now)
            if reason is R.NONE:
                self.orders.append(
                    Open(s.client_order_id, account, s.symbol_id, side, s.price, s.qty)
                )
            return reason
        order = self.find(s.client_order_id, s.symbol_id)
        if s.kind == SignalKind.CANCEL:
            return R.NONE if order and order.account == account else R.UNKNOWN_ORDER
        if s.qty < 0 or s.price < 0 or (s.qty == 0 and s.price == 0):
            return R.MALFORMED
        if order is None or order.account != account:
            return R.UNKNOWN_ORDER
        if self.killed:
            return R.KILL_SWITCH
        price, qty = s.price or order.price, s.qty or order.qty
        reason = self.rules(account, s.symbol_id, order.side, price, qty, order, now)
        if reason is R.NONE:
            if order.prev is None:
                order.prev = (order.price, order.qty)
            order.price, order.qty = price, qty
        return reason

    def rules(self, account, symbol, side, price, qty, replacing, now) -> RiskReason:
        lim = self.limits(account, symbol)
        mine = [o for o in self.orders if o.account == account and o.symbol == symbol]
        others = [o for o in mine if o is not replacing]
        if lim.max_order_qty and qty > lim.max_order_qty:
            return R.MAX_ORDER_QTY
        if lim.max_order_notional and price * qty > lim.max_order_notional:
            return R.MAX_ORDER_NOTIONAL
        if lim.collar_bps:
            if symbol in self.mid_x2:
                ref = Fraction(self.mid_x2[symbol], 2)
            elif symbol in self.last:
                ref = Fraction(self.last[symbol])
            else:
                return R.NO_REFERENCE_PRICE
            if abs(price - ref) > ref * Fraction(lim.collar_bps, 10_000):
                return R.PRICE_COLLAR
        if lim.self_cross_check:
            if side == Side.BUY and any(o.side == Side.SELL and price >= o.price for o in mine):
                return R.SELF_CROSS
            if side == Side.SELL and any(o.side == Side.BUY and price <= o.price for o in mine):
                return R.SELF_CROSS
        if replacing is None and lim.max_open_orders and len(mine) >= lim.max_open_orders:
            return R.MAX_OPEN_ORDERS
        open_notional = sum(o.price * o.qty for o in others) + price * qty
        if lim.max_open_notional and open_notional > lim.max_open_notional:
            return R.MAX_OPEN_NOTIONAL
        if lim.max_position:
            pos = self.position.get((account, symbol), 0)
            same = sum(o.qty for o in others if o.side == side) + qty
            worst = pos + same if side == Side.BUY else pos - same
            if abs(worst) > lim.max_position and (worst > 0) == (side == Side.BUY):
                return R.MAX_POSITION
        if lim.max_order_rate:
            burst = lim.order_burst or lim.max_order_rate
            tokens, last = self.buckets.get((account, symbol), (Fraction(burst), None))
            if last is not None and now > last:
                tokens = min(
                    Fraction(burst), tokens + Fraction((now - last) * lim.max_order_rate, 10**9)
                )
            if last is None or now > last:
                last = now
            if tokens < 1:
                self.buckets[(account, symbol)] = (tokens, last)
                return R.ORDER_RATE
            self.buckets[(account, symbol)] = (tokens - 1, last)
        return R.NONE

    def cancels(self) -> list[tuple[int, int, int, int]]:
        return [(o.coid, o.account, o.symbol, o.side) for o in self.orders]

    def kill(self) -> list[tuple[int, int, int, int]]:
        self.killed = True
        return self.cancels()

    def update(self, u: OrderUpdate) -> list[tuple[int, int, int, int]]:
        order = self.find(u.client_order_id, u.symbol_id)
        if order is None:
            return []
        if u.kind == UpdateKind.FILLED:
            key = (order.account, order.symbol)
            sign = 1 if order.side == Side.BUY else -1
            self.position[key] = self.position.get(key, 0) + sign * u.fill_qty
            if order.prev is not None:
                order.prev = (order.prev[0], u.leaves_qty)
            order.qty = u.leaves_qty
            if order.qty <= 0:
                self.orders.remove(order)
            else:
                order.accepted = True
            lim = self.limits(*key)
            if lim.max_position and not self.killed and abs(self.position[key]) > lim.max_position:
                return self.kill()
        elif u.kind == UpdateKind.ACCEPTED:
            order.accepted = True
        elif u.kind == UpdateKind.MODIFIED:
            order.prev, order.accepted = None, True
            order.price, order.qty = u.price or order.price, u.leaves_qty
            if order.qty <= 0:
                self.orders.remove(order)
        elif u.kind == UpdateKind.CANCELLED:
            if u.leaves_qty > 0:
                order.qty, order.accepted = u.leaves_qty, True
            else:
                self.orders.remove(order)
        elif u.kind == UpdateKind.EXPIRED:
            self.orders.remove(order)
        elif u.kind == UpdateKind.REJECTED:
            if not order.accepted:
                self.orders.remove(order)
            elif order.prev is not None:
                (order.price, order.qty), order.prev = order.prev, None
        return []

    def market(self, e: MarketEvent) -> list[tuple[int, int, int, int]]:
        if e.kind in (MarketKind.BOOK, MarketKind.BBO):
            if e.n_bid and e.n_ask:
                self.mid_x2[e.symbol_id] = e.bid_px[0] + e.ask_px[0]
            else:
                self.mid_x2.pop(e.symbol_id, None)
        elif e.kind == MarketKind.TRADE:
            self.last[e.symbol_id] = e.price
        elif e.kind == MarketKind.DISCONNECT:
            return self.kill()
        return []


small = st.sampled_from([0, 0, 0, 2, 5, 12])
limits = st.builds(
    RiskLimits,
    max_position=small,
    max_order_qty=small,
    max_order_notional=st.sampled_from([0, 0, 300, 1_000]),
    max_open_notional=st.sampled_from([0, 0, 500, 2_000]),
    max_order_rate=st.sampled_from([0, 0, 1, 3, 1_000]),
    order_burst=st.sampled_from([0, 1, 2, 5]),
    max_open_orders=st.sampled_from([0, 0, 1, 3, 6]),
    collar_bps=st.sampled_from([0, 0, 0, 50, 300]),
    self_cross_check=st.booleans(),
)
configs = st.builds(
    RiskConfig,
    default=limits,
    per_symbol=st.dictionaries(st.sampled_from(["AAA", "BBB"]), limits, max_size=1),
    per_account=st.dictionaries(st.sampled_from([1, 2]), limits, max_size=1),
)


def _as_tuples(orders):
    return [(o.client_order_id, o.account, o.symbol_id, o.side) for o in orders]


def _pick(rng, weighted):
    """Choose from ``[(weight, value), ...]``."""
    x = rng.random() * sum(w for w, _ in weighted)
    for weight, value in weighted:
        x -= weight
        if x < 0:
            return value
    return weighted[-1][1]


SIGNAL_KINDS = [
    (3, SignalKind.BUY),
    (3, SignalKind.SELL),
    (2, SignalKind.CANCEL),
    (2, SignalKind.MODIFY),
    (0.2, 0),
]
STEPS = [
    (10, "signal"),
    (5, "update"),
    (2, "market"),
    (3, "time"),
    (0.3, "kill"),
    (0.3, "disconnect"),
    (1, "reset"),
]
UPDATES = [
    (3, UpdateKind.FILLED),
    (2, UpdateKind.ACCEPTED),
    (1, UpdateKind.CANCELLED),
    (1, UpdateKind.REJECTED),
    (0.5, UpdateKind.EXPIRED),
    (1, UpdateKind.MODIFIED),
]


@HALF
@given(configs, st.integers(0, 2**32 - 1), st.integers(10, 120))
def test_engine_matches_the_reference(config, seed, n_steps):
    _run(config, seed, n_steps)


def _run(config: RiskConfig, seed: int, n_steps: int) -> Counter[RiskReason]:
    """Drive the engine and the reference with one seeded stream; return the reasons seen."""
    rng = random.Random(seed)
    seen: Counter[RiskReason] = Counter()
    engine = RiskEngine(config, SYMBOLS)
    ref = Reference(config)
    now = 0
    fresh = 0  # the latest fresh client order id
    for _ in range(n_steps):
        what = _pick(rng, STEPS)
        if what == "signal":
            kind = _pick(rng, SIGNAL_KINDS)
            account = rng.choice((1, 1, 2))
            symbol = _pick(rng, [(5, 1), (4, 2), (0.2, 3)])  # 3 is unknown
            price = _pick(rng, [(20, rng.randint(95, 105)), (0.3, 0), (0.3, -1), (0.5, 300)])
            qty = _pick(rng, [(20, rng.randint(1, 6)), (0.3, 0), (0.3, -1), (0.3, 40)])
            if kind in (SignalKind.BUY, SignalKind.SELL):
                fresh += 1
                coid = _pick(rng, [(20, fresh), (0.5, 0), (1, rng.randint(1, fresh))])
            elif kind == SignalKind.MODIFY:
                coid = _pick(rng, [(20, rng.randint(max(1, fresh - 6), max(1, fresh))), (0.3, 0)])
                price = _pick(rng, [(2, price), (1, 0)])
                qty = _pick(rng, [(2, qty), (1, 0)])
            else:
                coid = _pick(rng, [(20, rng.randint(max(1, fresh - 6), fresh + 1)), (0.3, 0)])
            signal = SignalEvent(kind, 1, symbol, coid, price, qty, ts_ns=now)
            got = engine.check(signal, account, now)
            expected = R.MALFORMED if kind == 0 else ref.check(signal, account, now)
            assert got.reason is expected, (signal, account, got)
            assert got.approved == (expected is R.NONE)
            seen[expected] += 1
            if not got.approved and rng.random() < 0.5 and isinstance(symbol, int):
                # A runtime may echo the refusal back as an update: it must change nothing.
                echo = OrderUpdate(UpdateKind.REJECTED, coid, symbol, reason=int(got.reason))
                assert engine.on_update(echo) == []
        elif what == "update":
            kind = _pick(rng, UPDATES)
            coid = rng.randint(max(1, fresh - 6), max(1, fresh))
            update = OrderUpdate(
                kind,
                coid,
                rng.choice((1, 2)),
                price=rng.choice((0, rng.randint(95, 105))),
                fill_qty=rng.randint(1, 6),
                leaves_qty=rng.randint(0, 5),
            )
            assert _as_tuples(engine.on_update(update)) == ref.update(update)
        elif what == "market":
            kind = rng.choice((MarketKind.BBO, MarketKind.BOOK, MarketKind.TRADE, MarketKind.END))
            symbol = rng.choice((1, 2))
            a = _pick(rng, [(5, rng.randint(95, 101)), (1, 0)])
            b = _pick(rng, [(5, rng.randint(100, 106)), (1, 0)])
            if kind == MarketKind.TRADE:
                event = MarketEvent(kind, symbol, now, price=a or 100, qty=1)
            else:
                event = MarketEvent(
                    kind,
                    symbol,
                    now,
                    n_bid=int(a > 0),
                    n_ask=int(b > 0),
                    bid_px=(a, *ZERO_LEVELS[1:]),
                    ask_px=(b, *ZERO_LEVELS[1:]),
                )
            assert _as_tuples(engine.on_market(event)) == ref.market(event)
        elif what == "time":
            now += rng.choice((0, 1, 10**8, 3 * 10**8, 10**9, 4 * 10**9))
        elif what == "kill":
            assert _as_tuples(engine.kill("test")) == ref.kill()
        elif what == "disconnect":
            event = MarketEvent(MarketKind.DISCONNECT, rng.choice((1, 2)), now)
            assert _as_tuples(engine.on_market(event)) == ref.market(event)
        else:
            engine.reset()
            ref.killed = False
        assert engine.killed == ref.killed
        for account in (1, 2):
            for symbol in (1, 2):
                assert engine.position(account, symbol) == ref.position.get((account, symbol), 0)
                expected_open = {
                    o.coid: (o.side, o.price, o.qty)
                    for o in ref.orders
                    if o.account == account and o.symbol == symbol
                }
                assert engine.open_orders(account, symbol) == expected_open
                assert engine.open_notional(account, symbol) == sum(
                    p * q for _, p, q in expected_open.values()
                )
    return seen


def test_the_random_streams_reach_every_reason():
    """Guard the generator: a rule the streams never reach is not tested by them."""
    each = RiskLimits(
        max_position=8,
        max_order_qty=5,
        max_order_notional=450,
        max_open_notional=1_500,
        max_order_rate=2,
        order_burst=3,
        max_open_orders=4,
        collar_bps=300,
    )
    configs = [
        RiskConfig(default=each),
        RiskConfig(default=RiskLimits(max_position=3, self_cross_check=False)),
        RiskConfig(default=RiskLimits(max_order_rate=1, self_cross_check=False)),
        RiskConfig(default=RiskLimits(max_open_orders=2)),
        RiskConfig(per_symbol={"AAA": each}, per_account={2: RiskLimits(max_open_notional=900)}),
    ]
    seen: Counter[RiskReason] = Counter()
    for i, config in enumerate(configs):
        for seed in range(8):
            seen += _run(config, 1_000 * i + seed, 150)
    assert set(seen) == set(RiskReason), seen


hostile = st.one_of(
    st.integers(-(2**70), 2**70),
    st.integers(-3, 120),
    st.floats(allow_nan=True),
    st.none(),
    st.text(max_size=3),
    st.booleans(),
    st.sampled_from([SignalKind.BUY, Side.SELL, TimeInForce.IOC]),
)


@HALF
@given(
    st.lists(
        st.tuples(
            st.one_of(st.sampled_from([*SignalKind]), hostile),  # kind
            st.one_of(st.sampled_from([1, 2]), hostile),  # symbol
            st.one_of(st.integers(1, 5), hostile),  # client order id
            st.one_of(st.integers(95, 105), hostile),  # price
            st.one_of(st.integers(1, 5), hostile),  # qty
            st.one_of(st.sampled_from([*TimeInForce]), hostile),  # tif
            st.one_of(st.booleans(), hostile),  # post_only
            st.one_of(st.sampled_from([1, 2]), hostile),  # account
            st.one_of(st.integers(0, 10**10), hostile),  # now
        ),
        max_size=30,
    )
)
def test_hostile_signals_never_raise_and_approved_orders_always_pack(items):
    engine = RiskEngine(RiskConfig(default=RiskLimits(max_order_rate=5)), SYMBOLS)
    buf = bytearray(max(Order.SIZE, RiskDecision.SIZE))
    for kind, symbol, coid, price, qty, tif, post_only, account, now in items:
        signal = SignalEvent(kind, 1, symbol, coid, price, qty, tif, post_only, 0)
        decision, order = engine.check_order(signal, account, now)
        assert isinstance(decision.reason, RiskReason)
        assert decision.approved == (order is not None) == (decision.reason is R.NONE)
        assert type(decision.ts_ns) is int
        if order is not None:
            order.pack_into(buf)  # whatever risk approves can cross a ring to the gateway
            assert Order.unpack_from(buf) == order
            decision.pack_into(buf)
            assert RiskDecision.unpack_from(buf) == decision
