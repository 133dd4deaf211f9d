"""The documented ranges of the integers on the order path.

They keep every value inside what the journal (64-bit records), the state hash (signed
64-bit fields) and the book's internal sentinels (keys up to 2**62) can represent. A
command with a field outside its range is rejected with ``VALUE_OUT_OF_RANGE``.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MAX_ACCOUNT", "MAX_ORDER_ID", "MAX_PRICE_TICKS", "MAX_QTY_LOTS", "MAX_TS_NS"]

MAX_PRICE_TICKS: Final = (1 << 60) - 1
"""Largest price (limit, stop, protection) in ticks; prices are >= 1."""
MAX_QTY_LOTS: Final = (1 << 62) - 1
"""Largest quantity in lots an instrument may allow (its ``max_qty_lots``)."""
MAX_ORDER_ID: Final = (1 << 63) - 1
"""Largest order id; order ids are >= 1."""
MAX_ACCOUNT: Final = (1 << 63) - 1
"""Largest account id; accounts are >= 0."""
MAX_TS_NS: Final = (1 << 63) - 1
"""Largest timestamp (GTD expiry) in ns on the simulation clock."""
