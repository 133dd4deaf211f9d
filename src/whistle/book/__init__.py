"""Layer 2: the L3 order book and matching. Imports only ``whistle.core``; no clock, no I/O."""

from whistle.book.book import INF_KEY, BookSide, OrderBook
from whistle.book.orders import Level, Order

__all__ = ["INF_KEY", "BookSide", "Level", "Order", "OrderBook"]
