"""Normalized order-level market data (market by order): what a feed says happened.

Decoders (``whistle.feed``: ITCH 5.0, LOBSTER, Databento MBO) turn their format into
these events; ``whistle.book.mbo.MarketByOrderBook`` applies them without matching.
They live in the core layer so that both of those packages, the recorder and the
trading pipeline can name them without importing each other.

Every event starts with the same five fields:

- ``instrument_id``: the source's instrument key (ITCH stock locate, Databento
  ``instrument_id``, 0 or the caller's choice for LOBSTER); 0 on an ITCH system event
  means "every instrument";
- ``ts_ns``: the exchange timestamp in nanoseconds (ITCH: since midnight; LOBSTER:
  seconds after midnight x 1e9; Databento: ``ts_event``, since the UNIX epoch);
- ``ts_recv_ns``: the receive timestamp where the source has one (Databento
  ``ts_recv``), else 0;
- ``sequence``: the source's sequence number (Databento ``sequence``); for a file
  without one (ITCH, LOBSTER) the message's 1-based position in the file, so that an
  anomaly found by a book names the message;
- ``flags``: ``FLAG_*`` bits. The low byte uses Databento's values; ITCH and LOBSTER
  events always carry ``FLAG_LAST`` (each message is a complete book update).

Prices are integers in the instrument's ticks, as the source gives them: ITCH 4 implied
decimals, LOBSTER dollars x 10,000, Databento 1e-9. ``MboInstrument.price_decimals``
says which. Quantities are shares / contracts. ``side`` is ``Side.BUY`` (1),
``Side.SELL`` (2) or ``SIDE_NONE`` (0: unknown or not applicable).

The structs are frozen, gc-free and array-like msgspec Structs: cheap to build (the
decoders' hot path builds one per message) and cheap to encode for recording, tagged so
that a recorded stream decodes back to the same types (``MBO_EVENT_TYPES``).
"""

from __future__ import annotations

from typing import Final, final

import msgspec

__all__ = [
    "FLAG_BAD_TS_RECV",
    "FLAG_LAST",
    "FLAG_MAYBE_BAD_BOOK",
    "FLAG_SNAPSHOT",
    "FLAG_SYNTHETIC",
    "FLAG_TOB",
    "MBO_EVENT_TYPES",
    "NO_PRICE",
    "PRIORITY_KEEP",
    "PRIORITY_KEEP_ON_DECREASE",
    "PRIORITY_LOSE",
    "SIDE_NONE",
    "STATUS_CLOSE",
    "STATUS_CROSS",
    "STATUS_HALT",
    "STATUS_OPEN",
    "STATUS_OTHER",
    "STATUS_PAUSE",
    "STATUS_QUOTE_ONLY",
    "STATUS_RESUME",
    "TRADE_CROSS",
    "TRADE_HIDDEN",
    "TRADE_INFO",
    "MboAdd",
    "MboCancel",
    "MboClear",
    "MboDelete",
    "MboEvent",
    "MboExecute",
    "MboInstrument",
    "MboModify",
    "MboStatus",
    "MboTrade",
]

# ----------------------------------------------------------------- flags (bit values)
FLAG_LAST: Final = 1 << 7
"""The last event of a source message / packet: the book is consistent after it."""
FLAG_TOB: Final = 1 << 6
"""Databento: top-of-book message."""
FLAG_SNAPSHOT: Final = 1 << 5
"""The event comes from a snapshot (recovery / start of day), not from live activity."""
FLAG_MAYBE_BAD_BOOK: Final = 1 << 2
"""Databento: the book may be incomplete (e.g. a gap)."""
FLAG_BAD_TS_RECV: Final = 1 << 3
"""Databento: ``ts_recv`` is not trustworthy."""
FLAG_SYNTHETIC: Final = 1 << 8
"""whistle: an order invented to seed a book from a depth snapshot (not a real order)."""

SIDE_NONE: Final = 0
"""Side unknown or not applicable (``Side.BUY`` is 1, ``Side.SELL`` is 2)."""

NO_PRICE: Final = (1 << 63) - 1
"""``MboExecute.price`` / ``MboCancel.price``... when the source gives none (Databento's
``UNDEF_PRICE``): the resting order's own price applies."""

# ----------------------------------------------------------------- modify priority rules
PRIORITY_LOSE: Final = 1
"""The modified order goes to the back of its (new) level (ITCH replace, LOBSTER)."""
PRIORITY_KEEP_ON_DECREASE: Final = 2
"""Same price and a smaller quantity keep the queue position; anything else loses it
(Databento / CME, most exchanges)."""
PRIORITY_KEEP: Final = 3
"""Same price keeps the position whatever the quantity; a new price loses it."""

# ----------------------------------------------------------------- trade kinds
TRADE_HIDDEN: Final = 1
"""A trade against a non-displayed order (ITCH P, LOBSTER 5)."""
TRADE_CROSS: Final = 2
"""An auction cross (ITCH Q, LOBSTER 6): one print for the whole cross."""
TRADE_INFO: Final = 3
"""A trade reported for information whose book effect arrives as separate events
(Databento T / F actions)."""

# ----------------------------------------------------------------- trading status
STATUS_OTHER: Final = 0
"""A system event with no trading meaning of its own (``detail`` has the source code)."""
STATUS_HALT: Final = 1
STATUS_RESUME: Final = 2
STATUS_OPEN: Final = 3
STATUS_CLOSE: Final = 4
STATUS_CROSS: Final = 5
STATUS_QUOTE_ONLY: Final = 6
STATUS_PAUSE: Final = 7


class MboEvent(msgspec.Struct, frozen=True, gc=False, array_like=True, tag_field="k"):
    """Base of every order-level event (see the module docstring for the fields)."""

    instrument_id: int
    ts_ns: int
    ts_recv_ns: int
    sequence: int
    flags: int


@final
class MboAdd(MboEvent, frozen=True, gc=False, array_like=True, tag=1):
    """A new visible order joins the back of its price level."""

    order_id: int
    side: int
    price: int
    qty: int


@final
class MboModify(MboEvent, frozen=True, gc=False, array_like=True, tag=2):
    """An order's price and/or quantity changes.

    ``qty`` is the new displayed quantity (not a difference). ``new_order_id`` is the id
    the order has afterwards (ITCH replace assigns a new one; else equal to
    ``order_id``). ``priority`` is the source's rule (``PRIORITY_*``). ``side`` may be
    ``SIDE_NONE``: the book knows the order's side.
    """

    order_id: int
    new_order_id: int
    side: int
    price: int
    qty: int
    priority: int


@final
class MboCancel(MboEvent, frozen=True, gc=False, array_like=True, tag=3):
    """``qty`` of an order is cancelled (partial cancel; the whole remainder deletes it).

    ``side`` / ``price`` are the resting order's when the source gives them (LOBSTER,
    Databento), else ``SIDE_NONE`` / ``NO_PRICE``; a book uses them only for an order
    it does not know (a synthetic seed order at that level).
    """

    order_id: int
    qty: int
    side: int
    price: int


@final
class MboDelete(MboEvent, frozen=True, gc=False, array_like=True, tag=4):
    """An order leaves the book, whatever it had left (``side`` / ``price`` as in cancel)."""

    order_id: int
    side: int
    price: int


@final
class MboExecute(MboEvent, frozen=True, gc=False, array_like=True, tag=5):
    """``qty`` of a resting visible order traded.

    ``price`` is the execution price, or ``NO_PRICE`` when it is the order's own price.
    ``side`` is the resting order's side when the source gives it (else ``SIDE_NONE``).
    ``printable`` is False when the trade must not be counted in volume (ITCH C with
    printable N). ``match_id`` is the source's match / trade number (0 when none).
    For an order the book does not know, ``side`` and ``price`` (when given) locate a
    synthetic seed order at that level, as for cancel.
    """

    order_id: int
    qty: int
    side: int
    price: int
    printable: bool
    match_id: int


@final
class MboTrade(MboEvent, frozen=True, gc=False, array_like=True, tag=6):
    """A trade that does not change the visible book (``kind``: ``TRADE_*``).

    ``side`` is the non-displayed order's side where known (ITCH P; LOBSTER 5), else
    ``SIDE_NONE``; ``order_id`` is 0 where the source has none.
    """

    order_id: int
    side: int
    price: int
    qty: int
    kind: int
    printable: bool
    match_id: int


@final
class MboClear(MboEvent, frozen=True, gc=False, array_like=True, tag=7):
    """Every order of the instrument is gone (Databento R; the start of a snapshot)."""


@final
class MboStatus(MboEvent, frozen=True, gc=False, array_like=True, tag=8):
    """Trading status changed (``status``: ``STATUS_*``; ``detail``: the source's code,
    e.g. ITCH system event ``"Q"`` or trading state ``"H"``, with a reason if any)."""

    status: int
    detail: str


@final
class MboInstrument(MboEvent, frozen=True, gc=False, array_like=True, tag=9):
    """The source names an instrument: ``instrument_id`` is ``symbol``; its prices have
    ``price_decimals`` implied decimals (ITCH 4, LOBSTER 4, Databento 9)."""

    symbol: str
    price_decimals: int


MBO_EVENT_TYPES: Final[tuple[type[MboEvent], ...]] = (
    MboAdd,
    MboModify,
    MboCancel,
    MboDelete,
    MboExecute,
    MboTrade,
    MboClear,
    MboStatus,
    MboInstrument,
)
"""Every concrete event type (a ``msgspec`` decoder of ``MboAdd | MboModify | ...``)."""
