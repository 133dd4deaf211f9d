"""Layer 3: ``Whistle``, one symbol's engine. Imports ``whistle.core`` and ``whistle.book``."""

from whistle.engine.snapshot import EngineSnapshot, OrderState, decode_snapshot
from whistle.engine.status import DepthLevel, DepthSnapshot, EngineStatus, L3Order, OrderInfo
from whistle.engine.whistle import Whistle

__all__ = [
    "DepthLevel",
    "DepthSnapshot",
    "EngineSnapshot",
    "EngineStatus",
    "L3Order",
    "OrderInfo",
    "OrderState",
    "Whistle",
    "decode_snapshot",
]
