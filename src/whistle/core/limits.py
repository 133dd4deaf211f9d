"""The documented ranges of the integers on the order path.

They keep every value inside what the journal (64-bit records), the state hash (signed
64-bit fields) and the book's internal sentinels (keys up to 2**62) can represent. A
command with a field outside its range is rejected with ``VALUE_OUT_OF_RANGE``: at the
venue's edge, before it is sequenced (``whistle.core.commands.command_error``), and again
by the engine for commands that reach it by other paths.

Prices and quantities may be negative on the way in (the engine refuses them with
``PRICE_NOT_POSITIVE`` / ``QTY_NOT_POSITIVE``, documented reasons); the edge bounds their
magnitude by the same maximum, so every value is a signed 64-bit int. Times are never
negative: a GTD expiry is in 0..``MAX_TS_NS``.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "MAX_ACCOUNT",
    "MAX_CLIENT_ORDER_ID",
    "MAX_DECIMAL_CHARS",
    "MAX_ORDER_ID",
    "MAX_PRICE_TICKS",
    "MAX_QTY_LOTS",
    "MAX_SYMBOL_ID",
    "MAX_SYMBOL_LEN",
    "MAX_TS_NS",
    "MIN_ACCOUNT",
    "MIN_CLIENT_ORDER_ID",
    "MIN_ORDER_ID",
    "MIN_SYMBOL_ID",
]

MAX_PRICE_TICKS: Final = (1 << 60) - 1
"""Largest price (limit, stop, protection) in ticks; prices are >= 1."""
MAX_QTY_LOTS: Final = (1 << 62) - 1
"""Largest quantity in lots an instrument may allow (its ``max_qty_lots``)."""
MIN_ORDER_ID: Final = 1
"""Smallest order id."""
MAX_ORDER_ID: Final = (1 << 63) - 1
"""Largest order id; order ids are >= 1."""
MIN_ACCOUNT: Final = 0
"""Smallest account id."""
MAX_ACCOUNT: Final = (1 << 63) - 1
"""Largest account id; accounts are >= 0."""
MIN_CLIENT_ORDER_ID: Final = 1
"""Smallest client order id; ``0`` in a command's ``client_order_id`` means "none"."""
MAX_CLIENT_ORDER_ID: Final = (1 << 63) - 1
"""Largest client order id (a signed 64-bit int, like order ids); unique per account."""
MAX_TS_NS: Final = (1 << 63) - 1
"""Largest timestamp (GTD expiry, simulation time) in ns on the simulation clock."""
MIN_SYMBOL_ID: Final = 1
"""Smallest symbol id (0 in an ``Instrument`` means "derive it from the symbol")."""
MAX_SYMBOL_ID: Final = (1 << 32) - 1
"""Largest symbol id (an unsigned 32-bit int)."""
MAX_SYMBOL_LEN: Final = 64
"""Longest symbol name, in characters (printable ASCII, no spaces)."""
MAX_DECIMAL_CHARS: Final = 64
"""Longest decimal string accepted (a sign, 19 digits, a point and 18 decimals fit twice)."""
