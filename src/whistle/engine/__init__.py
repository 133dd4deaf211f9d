"""Layer 3: ``Whistle``, one symbol's engine. Imports ``whistle.core`` and ``whistle.book``.

Lookups on an engine: ``order(order_id)`` (an ``OrderInfo``), ``depth(levels)`` /
``depth_all()`` (a ``DepthSnapshot``), ``status()`` (an ``EngineStatus`` with per-side
order counts). An engine reject's ``OrderRejected.detail_code`` has its words in
``detail_text(code)`` (the table ``DETAIL_TEXT``, documented in ``whistle.book.details``).
"""

from whistle.book.details import DETAIL_TEXT, detail_text
from whistle.engine.snapshot import EngineSnapshot, OrderState, decode_snapshot
from whistle.engine.status import DepthLevel, DepthSnapshot, EngineStatus, L3Order, OrderInfo
from whistle.engine.whistle import Whistle

__all__ = [
    "DETAIL_TEXT",
    "DepthLevel",
    "DepthSnapshot",
    "EngineSnapshot",
    "EngineStatus",
    "L3Order",
    "OrderInfo",
    "OrderState",
    "Whistle",
    "decode_snapshot",
    "detail_text",
]
