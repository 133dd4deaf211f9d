"""Unit tests of the FIFO ledger: worked examples, flips, fees, refusals, snapshots."""

from __future__ import annotations

from fractions import Fraction

import msgspec
import pytest

from whistle.core.enums import Side
from whistle.trading.accounting import Ledger, LedgerSnapshot

BUY, SELL = Side.BUY, Side.SELL


def test_flat_ledger():
    ledger = Ledger(symbol_id=5)
    assert (ledger.position, ledger.cost_basis, ledger.realised, ledger.fees) == (0, 0, 0, 0)
    assert ledger.avg_price_x == 0
    assert ledger.unrealised(123) == 0
    assert ledger.total(123) == 0
    assert ledger.snapshot().symbol_id == 5


def test_worked_example_long_then_partial_reduce_then_flip():
    ledger = Ledger()
    assert ledger.fill(BUY, 100, 3, fee=2) == 0
    assert ledger.fill(BUY, 103, 2, fee=1) == 0
    assert ledger.position == 5
    assert ledger.cost_basis == 300 + 206
    assert ledger.avg_price_x == Fraction(506, 5)
    assert ledger.unrealised(104) == 5 * 104 - 506
    # Sell 4 at 105: FIFO closes 3 @ 100 (+15) and 1 @ 103 (+2).
    assert ledger.fill(SELL, 105, 4, fee=-1) == 17
    assert ledger.position == 1
    assert ledger.lots == ((103, 1),)
    assert ledger.cost_basis == 103
    # Sell 3 at 101: closes 1 @ 103 (-2), then opens a short of 2 @ 101.
    assert ledger.fill(SELL, 101, 3) == -2
    assert ledger.position == -2
    assert ledger.lots == ((101, 2),)
    assert ledger.cost_basis == 202
    assert ledger.avg_price_x == 101
    assert ledger.realised == 15
    assert ledger.fees == 2
    assert ledger.unrealised(99) == 4  # short 2 from 101, marked at 99
    assert ledger.total(99) == 15 + 4 - 2
    assert ledger.volume == 12
    assert ledger.notional == 300 + 206 + 420 + 303
    assert (ledger.buy_qty, ledger.sell_qty, ledger.fills) == (5, 7, 4)
    assert ledger.max_abs_position == 5
    assert ledger.cash == -300 - 206 + 420 + 303
    assert ledger.realised + ledger.unrealised(99) == ledger.cash + ledger.position * 99


def test_short_first_and_cover_exactly_flat():
    ledger = Ledger()
    ledger.fill(SELL, 50, 4)
    assert ledger.position == -4
    assert ledger.unrealised(48) == 8
    assert ledger.fill(BUY, 47, 4) == 12
    assert ledger.position == 0
    assert ledger.lots == ()
    assert ledger.cost_basis == 0
    assert ledger.avg_price_x == 0
    assert ledger.unrealised(1_000) == 0
    assert ledger.max_abs_position == 4


def test_flip_from_short_to_long_in_one_fill():
    ledger = Ledger()
    ledger.fill(SELL, 10, 1)
    ledger.fill(SELL, 12, 1)
    assert ledger.fill(BUY, 11, 5) == (10 - 11) + (12 - 11)
    assert ledger.position == 3
    assert ledger.lots == ((11, 3),)
    assert ledger.max_abs_position == 3


def test_average_price_is_exact_not_rounded():
    ledger = Ledger()
    ledger.fill(BUY, 1, 1)
    ledger.fill(BUY, 2, 2)
    assert ledger.avg_price_x == Fraction(5, 3)
    assert isinstance(ledger.avg_price_x, Fraction)


def test_huge_values_stay_exact():
    ledger = Ledger()
    big = (1 << 60) - 1
    ledger.fill(BUY, big, (1 << 62) - 1)
    ledger.fill(SELL, big - 1, (1 << 62) - 1)
    assert ledger.realised == -((1 << 62) - 1)
    assert ledger.position == 0


@pytest.mark.parametrize(
    ("side", "price", "qty", "fee", "message"),
    [
        (BUY, 100, 0, 0, "qty must be a positive int"),
        (BUY, 100, -1, 0, "qty must be a positive int"),
        (BUY, 100, 1.0, 0, "qty must be a positive int"),
        (BUY, 100, True, 0, "qty must be a positive int"),
        (BUY, 100.5, 1, 0, "price must be an int"),
        (BUY, 100, 1, 0.1, "fee must be an int"),
        (0, 100, 1, 0, "side must be Side.BUY"),
        (3, 100, 1, 0, "side must be Side.BUY"),
    ],
)
def test_bad_fills_are_refused_and_change_nothing(side, price, qty, fee, message):
    ledger = Ledger()
    ledger.fill(BUY, 100, 2, fee=1)
    before = ledger.snapshot()
    with pytest.raises(ValueError, match=message):
        ledger.fill(side, price, qty, fee)
    assert ledger.snapshot() == before


def test_snapshot_is_frozen_and_json_safe():
    ledger = Ledger(symbol_id=3)
    ledger.fill(BUY, 100, 3, fee=5)
    ledger.fill(SELL, 101, 1)
    snap = ledger.snapshot()
    assert isinstance(snap, LedgerSnapshot)
    with pytest.raises(AttributeError):
        snap.position = 9  # type: ignore[misc]
    decoded = msgspec.json.decode(msgspec.json.encode(snap), type=LedgerSnapshot)
    assert decoded == snap
    assert snap.avg_price_x == ledger.avg_price_x == 100
    assert snap.unrealised(104) == ledger.unrealised(104) == 8
    assert snap.total(104) == ledger.total(104) == 1 + 8 - 5
    # Later fills do not change an earlier snapshot.
    ledger.fill(SELL, 90, 10)
    assert snap.position == 2
    short = ledger.snapshot()
    assert short.unrealised(80) == ledger.unrealised(80) == 80
    assert short.avg_price_x == 90
    assert Ledger().snapshot().avg_price_x == 0
