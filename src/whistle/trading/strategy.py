"""The strategy API: subclass ``Strategy``, override the callbacks you need.

A strategy is plain Python. A runtime (the backtest, the live pipeline, the orchestrator)
owns one ``Context`` per strategy per symbol, sets its clock and book, calls the callbacks
the strategy *overrides* (``subscriptions``), and after each callback takes the signals the
strategy's actions produced (``Context.drain_signals``). A strategy never reaches into an
engine: it reads its ``Context`` and the ``BookView`` it is given, and acts through the
context.

Callbacks (all optional; the defaults do nothing):

=====================  ===============================================================
``on_start(ctx)``      once, before the first event
``on_book(ctx, book)`` every book change (``MarketKind.BOOK``), with a ``BookView``
``on_bbo(ctx, book)``  only when the best bid or ask price or quantity changed
``on_trade(ctx, t)``   every trade print (a ``MarketEvent`` of kind ``TRADE``)
``on_order_update``    ``(ctx, update)``: one of the strategy's orders changed; the
                       context has already applied it (open orders, ledger)
``on_timer(ctx, tag)`` a timer set with ``ctx.set_timer`` / ``ctx.after`` is due
``on_stop(ctx)``       once, at the end (after the feed ended or the run was stopped)
=====================  ===============================================================

A runtime calls only what ``subscriptions(strategy)`` names ("book", "bbo", "trade",
"order_update", "timer"), so a strategy that only wants BBO changes pays nothing per book
event beyond the book itself. ``on_start`` and ``on_stop`` are always called.

``BookView`` is the strategy's read-only view of one symbol's top of book, built either from
a ``MarketEvent`` (the pipeline, across a ring) or straight from a live
``whistle.book.mbo.MarketByOrderBook`` (the backtest) without copying any level: only
``depth()`` builds lists. Runtimes refresh one view per context in place (``load_event`` /
``load_book``), so a strategy that keeps a view sees it change: copy ``depth()`` or the
fields it needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final, final

import msgspec

from whistle.core.validate import show
from whistle.trading.errors import StrategyConfigError

if TYPE_CHECKING:
    from whistle.book.mbo import MarketByOrderBook
    from whistle.trading.context import Context
    from whistle.trading.messages import MarketEvent, OrderUpdate

__all__ = [
    "CALLBACKS",
    "BookView",
    "EmptyConfig",
    "Strategy",
    "convert_config",
    "subscriptions",
]

CALLBACKS: Final = ("book", "bbo", "trade", "order_update", "timer")
"""The subscribable callbacks, by name (``on_<name>``), in a fixed order."""

_INF_KEY: Final = 1 << 62  # MarketByOrderBook's empty-side key


class EmptyConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The config of a strategy that takes none: any key is an unknown key."""


def convert_config(
    config_type: type[msgspec.Struct], data: Mapping[str, Any], source: str, spec: str
) -> msgspec.Struct:
    """Return ``data`` converted to ``config_type``, strictly (no str -> int, no bool -> int).

    Raise ``StrategyConfigError`` naming ``source`` (a file or ``"<dict>"``), ``spec`` and the
    offending key, e.g. ``"mm.toml: MarketMaker config: qty_lots: Expected `int` >= 1, got 0"``.
    """
    try:
        return msgspec.convert(data, config_type, strict=True)
    except msgspec.ValidationError as exc:
        text = str(exc)
        key: str | None = None
        marker = " - at `$"
        at = text.rfind(marker)
        if at >= 0:
            path = text[at + len(marker) : -1].lstrip(".")
            text = text[:at]
            key = path or None
        if key is None and text.startswith("Object contains unknown field `"):
            key = text[len("Object contains unknown field `") : text.rfind("`")]
        elif key is not None and ", got " not in text:
            seen = _lookup(data, key)
            if seen is not _MISSING:
                text = f"{text}, was {show(seen)}"
        where = f"{key}: " if key else ""
        raise StrategyConfigError(
            f"{source}: {spec} config: {where}{text}", key=key, source=source
        ) from None


_MISSING: Final = object()


def _lookup(data: object, path: str) -> object:
    # The value at a msgspec error path ("risk.limits[2].qty"), or _MISSING.
    for part in path.replace("[", ".[").split("."):
        if not part:
            continue
        if part.startswith("["):
            index = part.strip("[]")
            if not isinstance(data, list) or not index.isdigit() or int(index) >= len(data):
                return _MISSING
            data = data[int(index)]
        elif isinstance(data, Mapping) and part in data:
            data = data[part]
        else:
            return _MISSING
    return data


class Strategy:
    """Base class of every strategy. Override the callbacks you need (see the module doc).

    ``Config`` is the strategy's configuration type: a frozen msgspec Struct with
    ``forbid_unknown_fields=True`` and units in its field names (``qty_lots``, ``hold_ns``);
    ``__init__`` takes an instance of it, a mapping converted to it strictly, or ``None``
    for its defaults (a ``Config`` with required fields then raises
    ``StrategyConfigError``). The validated config is ``self.config``.
    """

    Config: ClassVar[type[msgspec.Struct]] = EmptyConfig

    def __init__(self, config: msgspec.Struct | Mapping[str, Any] | None = None) -> None:
        cls = type(self)
        config_type = cls.Config
        name = cls.__name__
        if config is None:
            config = convert_config(config_type, {}, "<defaults>", name)
        elif isinstance(config, msgspec.Struct):
            if type(config) is not config_type:
                raise StrategyConfigError(
                    f"{name} takes a {config_type.__name__} config, was a {type(config).__name__}"
                )
        elif isinstance(config, Mapping):
            config = convert_config(config_type, config, "<dict>", name)
        else:
            raise StrategyConfigError(
                f"{name} config must be a {config_type.__name__}, a mapping or None, was a"
                f" {type(config).__name__}"
            )
        self.config: msgspec.Struct = config

    @property
    def name(self) -> str:
        """Return the strategy's name (its class name) for logs and errors."""
        return type(self).__name__

    def on_start(self, ctx: Context) -> None:
        """Run once before the first event."""

    def on_book(self, ctx: Context, book: BookView) -> None:
        """Handle a book change."""

    def on_bbo(self, ctx: Context, book: BookView) -> None:
        """Handle a change of the best bid or ask (price or quantity)."""

    def on_trade(self, ctx: Context, trade: MarketEvent) -> None:
        """Handle a trade print."""

    def on_order_update(self, ctx: Context, update: OrderUpdate) -> None:
        """Handle an update of one of this strategy's orders (already applied to ``ctx``)."""

    def on_timer(self, ctx: Context, tag: int) -> None:
        """Handle a due timer (``tag`` as given to ``set_timer`` / ``after``)."""

    def on_stop(self, ctx: Context) -> None:
        """Run once at the end."""


_SUBSCRIPTIONS: dict[type[Strategy], frozenset[str]] = {}


def subscriptions(strategy: Strategy | type[Strategy]) -> frozenset[str]:
    """Return the callbacks the strategy's class overrides, by name ("book", "bbo", ...).

    Runtimes call only these. The answer depends on the class alone (an attribute set on
    an instance does not count) and is computed once per class.
    """
    cls = strategy if isinstance(strategy, type) else type(strategy)
    known = _SUBSCRIPTIONS.get(cls)
    if known is not None:
        return known
    if not issubclass(cls, Strategy):
        raise TypeError(f"subscriptions() needs a Strategy, was {cls.__name__}")
    found = frozenset(
        name
        for name in CALLBACKS
        if getattr(cls, f"on_{name}") is not getattr(Strategy, f"on_{name}")
    )
    _SUBSCRIPTIONS[cls] = found
    return found


@final
class BookView:
    """A read-only view of one symbol's top of book (prices in ticks, quantities in lots).

    ``best_bid`` / ``best_ask`` and ``bid_qty`` / ``ask_qty`` are 0 for an empty side.
    ``depth(n)`` reads the levels it came from: the event's ten, or the live book's.
    """

    __slots__ = (
        "_book",
        "_event",
        "ask_qty",
        "best_ask",
        "best_bid",
        "bid_qty",
        "symbol_id",
        "ts_ns",
    )

    def __init__(
        self,
        symbol_id: int = 0,
        ts_ns: int = 0,
        best_bid: int = 0,
        bid_qty: int = 0,
        best_ask: int = 0,
        ask_qty: int = 0,
    ) -> None:
        self.symbol_id = symbol_id
        self.ts_ns = ts_ns
        self.best_bid = best_bid
        self.bid_qty = bid_qty
        self.best_ask = best_ask
        self.ask_qty = ask_qty
        self._event: MarketEvent | None = None
        self._book: MarketByOrderBook | None = None

    @classmethod
    def from_event(cls, event: MarketEvent) -> BookView:
        """Return a view of the book a ``BOOK`` / ``BBO`` ``MarketEvent`` carries."""
        view = cls(event.symbol_id)
        view.load_event(event)
        return view

    @classmethod
    def from_book(cls, book: MarketByOrderBook, symbol_id: int = 0, ts_ns: int = 0) -> BookView:
        """Return a view of a live book (``symbol_id`` defaults to its ``instrument_id``)."""
        view = cls(symbol_id or book.instrument_id)
        view.load_book(book, ts_ns)
        return view

    def load_event(self, event: MarketEvent) -> None:
        """Show the book ``event`` carries (levels unused by the event read as empty)."""
        self._event = event
        self._book = None
        self.ts_ns = event.ts_ns
        if event.n_bid:
            self.best_bid = event.bid_px[0]
            self.bid_qty = event.bid_qty[0]
        else:
            self.best_bid = self.bid_qty = 0
        if event.n_ask:
            self.best_ask = event.ask_px[0]
            self.ask_qty = event.ask_qty[0]
        else:
            self.best_ask = self.ask_qty = 0

    def load_book(self, book: MarketByOrderBook, ts_ns: int) -> None:
        """Show ``book`` as it is now (its best levels; nothing is copied)."""
        self._book = book
        self._event = None
        self.ts_ns = ts_ns
        key = book.bids.best
        if key == _INF_KEY:
            self.best_bid = self.bid_qty = 0
        else:
            self.best_bid = -key
            self.bid_qty = book.bids.levels[key].qty
        key = book.asks.best
        if key == _INF_KEY:
            self.best_ask = self.ask_qty = 0
        else:
            self.best_ask = key
            self.ask_qty = book.asks.levels[key].qty

    @property
    def mid_x2(self) -> int:
        """Return best bid + best ask (twice the mid, exact), 0 if a side is empty."""
        if self.best_bid and self.best_ask:
            return self.best_bid + self.best_ask
        return 0

    @property
    def spread(self) -> int:
        """Return best ask - best bid in ticks, 0 if a side is empty."""
        if self.best_bid and self.best_ask:
            return self.best_ask - self.best_bid
        return 0

    def top(self) -> tuple[int, int, int, int]:
        """Return (best bid, bid qty, best ask, ask qty): what a BBO change compares."""
        return (self.best_bid, self.bid_qty, self.best_ask, self.ask_qty)

    def depth(self, n: int = 10) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Return the best ``n`` levels of each side as (bids, asks) of (price, qty), best first.

        From an event, at most its ten levels; from a live book, up to ``n`` levels of it.
        """
        if type(n) is not int:
            raise TypeError(f"depth(n): n must be an int, was {type(n).__name__}")
        if n < 0:
            raise ValueError(f"depth(n): n must be >= 0, was {n}")
        book = self._book
        if book is not None:
            bids, asks = book.depth(n)
            return [(p, q) for p, q, _ in bids], [(p, q) for p, q, _ in asks]
        event = self._event
        if event is None:
            out_b: list[tuple[int, int]] = []
            out_a: list[tuple[int, int]] = []
            if self.best_bid and n:
                out_b.append((self.best_bid, self.bid_qty))
            if self.best_ask and n:
                out_a.append((self.best_ask, self.ask_qty))
            return out_b, out_a
        nb = min(n, event.n_bid)
        na = min(n, event.n_ask)
        return (
            list(zip(event.bid_px[:nb], event.bid_qty[:nb], strict=True)),
            list(zip(event.ask_px[:na], event.ask_qty[:na], strict=True)),
        )

    def __repr__(self) -> str:
        return (
            f"BookView(symbol_id={self.symbol_id}, ts_ns={self.ts_ns}, bid={self.best_bid}"
            f"x{self.bid_qty}, ask={self.best_ask}x{self.ask_qty})"
        )
