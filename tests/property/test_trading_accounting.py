"""Property tests: the FIFO ledger against a naive unit-lot reference, and the cash identity
realised + unrealised(mark) == cash flow + position * mark, for any stream of fills."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from property.strategies import PROFILE
from whistle.core.enums import Side
from whistle.trading.accounting import Ledger

HALF = settings(PROFILE, max_examples=max(PROFILE.max_examples // 2, 10))

fills = st.lists(
    st.tuples(
        st.sampled_from([Side.BUY, Side.SELL]),
        st.integers(1, 200),  # price
        st.integers(1, 12),  # qty
        st.integers(-5, 5),  # fee
    ),
    max_size=60,
)
marks = st.integers(1, 200)


class UnitLots:
    """The oracle: the position as a list of single lots, each closed one by one."""

    def __init__(self) -> None:
        self.longs: list[int] = []  # entry price of each open long lot, oldest first
        self.shorts: list[int] = []
        self.realised = 0

    def fill(self, side: Side, price: int, qty: int) -> None:
        for _ in range(qty):
            if side is Side.BUY:
                if self.shorts:
                    self.realised += self.shorts.pop(0) - price
                else:
                    self.longs.append(price)
            elif self.longs:
                self.realised += price - self.longs.pop(0)
            else:
                self.shorts.append(price)

    @property
    def position(self) -> int:
        return len(self.longs) - len(self.shorts)

    def unrealised(self, mark: int) -> int:
        return sum(mark - p for p in self.longs) + sum(p - mark for p in self.shorts)


@HALF
@given(fills, marks)
def test_ledger_matches_unit_lots(stream, mark):
    ledger = Ledger()
    oracle = UnitLots()
    max_abs = 0
    for side, price, qty, fee in stream:
        before = ledger.realised
        returned = ledger.fill(side, price, qty, fee)
        oracle.fill(side, price, qty)
        assert returned == ledger.realised - before
        assert ledger.position == oracle.position
        assert ledger.realised == oracle.realised
        max_abs = max(max_abs, abs(oracle.position))
    assert ledger.unrealised(mark) == oracle.unrealised(mark)
    open_prices = oracle.longs or oracle.shorts
    assert ledger.cost_basis == sum(open_prices)
    if open_prices:
        assert ledger.avg_price_x == Fraction(sum(open_prices), len(open_prices))
    else:
        assert ledger.avg_price_x == 0
    assert ledger.max_abs_position == max_abs
    assert ledger.fees == sum(f for *_, f in stream)
    assert ledger.volume == sum(q for _, _, q, _ in stream)
    assert ledger.fills == len(stream)


@HALF
@given(fills, marks)
def test_pnl_equals_cash_flow_plus_marked_position(stream, mark):
    ledger = Ledger()
    cash = 0
    for side, price, qty, fee in stream:
        ledger.fill(side, price, qty, fee)
        cash += price * qty if side is Side.SELL else -price * qty
        # After every fill, at any mark (here: this fill's price and the final mark).
        for m in (price, mark):
            assert ledger.realised + ledger.unrealised(m) == cash + ledger.position * m
    assert ledger.cash == cash
    assert ledger.total(mark) == cash + ledger.position * mark - ledger.fees
    snap = ledger.snapshot()
    assert snap.unrealised(mark) == ledger.unrealised(mark)
    assert snap.total(mark) == ledger.total(mark)
    # Lots are all on the position's side and add up to it.
    lots = ledger.lots
    assert sum(q for _, q in lots) == abs(ledger.position)
    assert all(q > 0 for _, q in lots)
