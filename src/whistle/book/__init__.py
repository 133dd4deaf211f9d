"""Layer 2: the L3 order book and matching, and the market-by-order book builder.

Imports only ``whistle.core``; no clock, no I/O. ``OrderBook`` matches commands;
``MarketByOrderBook`` applies recorded order-level market data without matching.
"""

from whistle.book.book import INF_KEY, BookSide, OrderBook
from whistle.book.mbo import MarketByOrderBook
from whistle.book.orders import Level, Order

__all__ = ["INF_KEY", "BookSide", "Level", "MarketByOrderBook", "Order", "OrderBook"]
