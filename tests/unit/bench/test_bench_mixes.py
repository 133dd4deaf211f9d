"""The benchmark's command generators: shares, determinism, live targets, book shape."""

from __future__ import annotations

import pytest

from whistle.bench.mixes import (
    KIND_CANCEL,
    KIND_GTC,
    KIND_IOC,
    KIND_MOVE,
    MIX_NAMES,
    CommandMix,
    LiveOrders,
    generate_mix,
)
from whistle.core.commands import CancelOrder, ModifyOrder, NewOrder
from whistle.core.enums import TimeInForce
from whistle.core.events import OrderCancelled, OrderModified, OrderRejected, TradeOccurred
from whistle.engine.whistle import Whistle

N = 20_000


@pytest.fixture(scope="module")
def exchange_core() -> CommandMix:
    return generate_mix("exchange-core", N, seed=7)


@pytest.fixture(scope="module")
def plain() -> CommandMix:
    return generate_mix("plain", N, seed=7)


def _shares(mix: CommandMix) -> dict[str, float]:
    return {k: v / len(mix.commands) for k, v in mix.kind_counts().items()}


def test_exchange_core_shares(exchange_core: CommandMix) -> None:
    shares = _shares(exchange_core)
    assert len(exchange_core.commands) == N
    assert shares["gtc"] == pytest.approx(0.09, abs=0.015)
    assert shares["ioc"] == pytest.approx(0.03, abs=0.006)
    assert shares["cancel"] == pytest.approx(0.06, abs=0.008)
    assert shares["move"] == pytest.approx(0.82, abs=0.02)


def test_plain_shares(plain: CommandMix) -> None:
    shares = _shares(plain)
    assert shares["gtc"] == pytest.approx(0.55, abs=0.015)
    assert shares["cancel"] == pytest.approx(0.35, abs=0.015)
    assert shares["ioc"] == pytest.approx(0.10, abs=0.01)
    assert shares["move"] == 0


def test_kinds_match_command_types(exchange_core: CommandMix) -> None:
    for cmd, kind in zip(exchange_core.commands, exchange_core.kinds, strict=True):
        if kind == KIND_GTC:
            assert type(cmd) is NewOrder
            assert cmd.tif == TimeInForce.GTC
        elif kind == KIND_IOC:
            assert type(cmd) is NewOrder
            assert cmd.tif == TimeInForce.IOC
        elif kind == KIND_CANCEL:
            assert type(cmd) is CancelOrder
        else:
            assert kind == KIND_MOVE
            assert type(cmd) is ModifyOrder
            assert cmd.qty_lots == 0  # same quantity
            assert cmd.price_ticks > 0


@pytest.mark.parametrize("name", MIX_NAMES)
def test_same_seed_same_commands(name: str) -> None:
    a = generate_mix(name, 3_000, seed=11)
    b = generate_mix(name, 3_000, seed=11)
    c = generate_mix(name, 3_000, seed=12)
    assert a.prefill == b.prefill
    assert a.commands == b.commands
    assert a.kinds == b.kinds
    assert (a.events, a.trades, a.trading_commands) == (b.events, b.trades, b.trading_commands)
    assert a.commands != c.commands


@pytest.mark.parametrize("name", MIX_NAMES)
def test_cancels_and_moves_target_live_orders(name: str) -> None:
    mix = generate_mix(name, 10_000, seed=3)
    engine = Whistle(mix.instrument)
    live = LiveOrders()
    enq = 0
    for cmd in mix.prefill:
        enq += 1
        live.apply(engine.process(enq, cmd, 0))
    events_total = 0
    for cmd in mix.commands:
        if type(cmd) is CancelOrder or type(cmd) is ModifyOrder:
            assert cmd.order_id in live
        if type(cmd) is ModifyOrder:
            assert cmd.price_ticks != live.price[cmd.order_id]
        enq += 1
        events = engine.process(enq, cmd, 0)
        events_total += len(events)
        assert not any(type(e) is OrderRejected for e in events)
        if type(cmd) is CancelOrder:
            assert any(type(e) is OrderCancelled and e.order_id == cmd.order_id for e in events)
        if type(cmd) is ModifyOrder:
            assert any(type(e) is OrderModified and e.order_id == cmd.order_id for e in events)
        live.apply(events)
    # A fresh engine replays exactly what generation saw.
    assert events_total == mix.events
    assert len(live) == mix.resting_end
    assert mix.rejects == 0


def test_exchange_core_book_shape_and_trade_fraction(exchange_core: CommandMix) -> None:
    assert exchange_core.resting_start == 1_000
    assert 700 <= exchange_core.resting_end <= 1_300
    assert 550 <= exchange_core.levels_end <= 950
    fraction = exchange_core.trading_commands / len(exchange_core.commands)
    assert 0.045 <= fraction <= 0.075
    assert exchange_core.trades >= exchange_core.trading_commands


def test_trade_counters_match_a_replay(plain: CommandMix) -> None:
    engine = Whistle(plain.instrument)
    enq = 0
    for cmd in plain.prefill:
        enq += 1
        engine.process(enq, cmd, 0)
    trading = trades = 0
    for cmd in plain.commands:
        enq += 1
        n = sum(type(e) is TradeOccurred for e in engine.process(enq, cmd, 0))
        trades += n
        trading += n > 0
    assert (trading, trades) == (plain.trading_commands, plain.trades)


def test_unknown_mix_and_bad_size() -> None:
    with pytest.raises(ValueError, match="unknown mix"):
        generate_mix("nope", 10)
    with pytest.raises(ValueError, match="positive"):
        generate_mix("plain", 0)
