"""Strategy base, subscriptions and BookView (from events and from a live MBO book)."""

from __future__ import annotations

import msgspec
import pytest

from whistle.book.mbo import MarketByOrderBook
from whistle.core.mbo import FLAG_LAST, MboAdd, MboDelete
from whistle.trading.errors import StrategyConfigError, StrategyError, TradingError
from whistle.trading.examples import ImbalanceTaker, MarketMaker, Noop
from whistle.trading.messages import LEVELS, MarketEvent, MarketKind
from whistle.trading.strategy import CALLBACKS, BookView, EmptyConfig, Strategy, subscriptions


def _levels(values):
    return tuple(values) + (0,) * (LEVELS - len(values))


def book_event(bids, asks, ts=5, symbol_id=7, kind=MarketKind.BOOK):
    return MarketEvent(
        kind,
        symbol_id,
        ts,
        n_bid=len(bids),
        n_ask=len(asks),
        bid_px=_levels([p for p, _ in bids]),
        bid_qty=_levels([q for _, q in bids]),
        ask_px=_levels([p for p, _ in asks]),
        ask_qty=_levels([q for _, q in asks]),
    )


# -- subscriptions ---------------------------------------------------------------------


class OnlyBbo(Strategy):
    def on_bbo(self, ctx, book):
        pass

    def on_timer(self, ctx, tag):
        pass


class Everything(OnlyBbo):
    def on_book(self, ctx, book):
        pass

    def on_trade(self, ctx, trade):
        pass

    def on_order_update(self, ctx, update):
        pass


def test_subscriptions_are_the_overridden_callbacks():
    assert subscriptions(Strategy) == frozenset()
    assert subscriptions(OnlyBbo) == {"bbo", "timer"}
    assert subscriptions(OnlyBbo()) == {"bbo", "timer"}
    assert subscriptions(Everything) == set(CALLBACKS)
    assert subscriptions(Noop) == {"book"}
    assert subscriptions(MarketMaker) == {"bbo", "order_update"}
    assert subscriptions(ImbalanceTaker) == {"bbo", "order_update", "timer"}


def test_subscriptions_ignore_instance_attributes_and_reject_non_strategies():
    s = OnlyBbo()
    s.on_book = lambda ctx, book: None  # type: ignore[method-assign]
    assert "book" not in subscriptions(s)
    with pytest.raises(TypeError, match="needs a Strategy"):
        subscriptions(int)  # type: ignore[arg-type]


# -- config ----------------------------------------------------------------------------


class Sized(Strategy):
    class Config(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
        qty_lots: int = 1


class NeedsKey(Strategy):
    class Config(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
        hold_ns: int


def test_config_defaults_dict_and_instance():
    assert Sized().config == Sized.Config(1)
    assert Sized({"qty_lots": 3}).config == Sized.Config(3)
    assert Sized(Sized.Config(4)).config == Sized.Config(4)
    assert Strategy().config == EmptyConfig()


def test_config_refusals_name_the_key():
    with pytest.raises(StrategyConfigError, match="qty_lot") as info:
        Sized({"qty_lot": 3})
    assert info.value.key == "qty_lot"
    assert info.value.source == "<dict>"
    with pytest.raises(StrategyConfigError, match=r"qty_lots: Expected `int`, got `bool`") as info:
        Sized({"qty_lots": True})
    assert info.value.key == "qty_lots"
    with pytest.raises(StrategyConfigError, match="got `str`"):
        Sized({"qty_lots": "3"})
    with pytest.raises(StrategyConfigError, match="got `float`"):
        Sized({"qty_lots": 1.5})
    with pytest.raises(StrategyConfigError, match="hold_ns"):
        NeedsKey()
    with pytest.raises(StrategyConfigError, match="takes a Config config, was a EmptyConfig"):
        Sized(EmptyConfig())
    with pytest.raises(StrategyConfigError, match="mapping or None, was a list"):
        Sized([1])  # type: ignore[arg-type]
    with pytest.raises(StrategyConfigError, match="unknown field `x`"):
        Strategy({"x": 1})


# -- BookView from events ------------------------------------------------------------------


def test_view_from_event_reads_the_top_and_depth():
    ev = book_event([(100, 5), (99, 7), (98, 1)], [(103, 2), (104, 9)])
    view = BookView.from_event(ev)
    assert (view.symbol_id, view.ts_ns) == (7, 5)
    assert view.top() == (100, 5, 103, 2)
    assert view.mid_x2 == 203
    assert view.spread == 3
    assert view.depth(2) == ([(100, 5), (99, 7)], [(103, 2), (104, 9)])
    assert view.depth() == ([(100, 5), (99, 7), (98, 1)], [(103, 2), (104, 9)])
    assert view.depth(0) == ([], [])


def test_view_of_an_empty_side_reads_zero():
    view = BookView.from_event(book_event([(100, 5)], []))
    assert view.top() == (100, 5, 0, 0)
    assert view.mid_x2 == 0
    assert view.spread == 0
    assert view.depth() == ([(100, 5)], [])
    view.load_event(book_event([], [], ts=9))
    assert view.top() == (0, 0, 0, 0)
    assert view.ts_ns == 9


def test_view_refreshes_in_place_and_refuses_bad_depth():
    view = BookView(7)
    assert view.top() == (0, 0, 0, 0)
    assert view.depth() == ([], [])
    view.load_event(book_event([(50, 1)], [(52, 3)], kind=MarketKind.BBO))
    assert view.top() == (50, 1, 52, 3)
    with pytest.raises(ValueError, match=">= 0"):
        view.depth(-1)
    with pytest.raises(TypeError, match="must be an int"):
        view.depth(2.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be an int"):
        view.depth(True)
    assert BookView(1, 2, 10, 3, 12, 4).depth() == ([(10, 3)], [(12, 4)])


# -- BookView from a live book ---------------------------------------------------------


def add(order_id, side, price, qty, ts=1):
    return MboAdd(3, ts, ts, 0, FLAG_LAST, order_id, side, price, qty)


def test_view_from_a_live_book_copies_nothing_until_depth():
    book = MarketByOrderBook(3)
    for i, (side, price, qty) in enumerate(
        [(1, 100, 5), (1, 100, 2), (1, 98, 4), (2, 101, 3), (2, 105, 1)], start=1
    ):
        book.apply(add(i, side, price, qty))
    view = BookView.from_book(book, ts_ns=11)
    assert view.symbol_id == 3
    assert view.top() == (100, 7, 101, 3)
    assert view.mid_x2 == 201
    assert view.depth(1) == ([(100, 7)], [(101, 3)])
    assert view.depth() == ([(100, 7), (98, 4)], [(101, 3), (105, 1)])
    # depth reads the live book at call time; the top fields only change on load_book.
    book.apply(MboDelete(3, 12, 12, 0, FLAG_LAST, 4, 2, 101))
    assert view.depth(1) == ([(100, 7)], [(105, 1)])
    assert view.best_ask == 101
    view.load_book(book, 12)
    assert view.top() == (100, 7, 105, 1)
    assert view.ts_ns == 12


def test_view_of_an_empty_live_book_and_switching_sources():
    book = MarketByOrderBook(3)
    view = BookView.from_book(book, symbol_id=9)
    assert view.symbol_id == 9
    assert view.top() == (0, 0, 0, 0)
    assert view.depth() == ([], [])
    book.apply(add(1, 2, 70, 4))
    view.load_book(book, 2)
    assert view.top() == (0, 0, 70, 4)
    assert view.spread == 0
    view.load_event(book_event([(60, 1)], []))
    assert view.depth() == ([(60, 1)], [])  # the event's levels now, not the book's
    assert "bid=60x1" in repr(view)


def test_strategy_error_carries_the_callback_and_the_cause():
    cause = ZeroDivisionError("division by zero")
    err = StrategyError("on_book", cause, "MarketMaker")
    assert isinstance(err, TradingError)
    assert (err.callback, err.cause, err.strategy) == ("on_book", cause, "MarketMaker")
    assert err.__cause__ is cause
    assert (
        str(err)
        == "strategy callback MarketMaker.on_book raised ZeroDivisionError: division by zero"
    )
    assert (
        str(StrategyError("on_timer", KeyError(3)))
        == "strategy callback on_timer raised KeyError: 3"
    )
