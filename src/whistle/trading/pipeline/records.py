"""What crosses the pipeline's rings: the trading messages' fixed records plus one marker.

Every ring record is one message. Byte 0 is the record's type code: ``MarketEvent`` 1,
``SignalEvent`` 2, ``Order`` 4, ``OrderUpdate`` 5 (``whistle.trading.messages`` packs them,
each with ``pack_into`` / ``unpack_from``), and ``Marker`` ``MARKER_TAG`` (this module). A
stage dispatches on that byte without unpacking the record.

A ``Marker`` closes a *round* (``whistle.trading.pipeline.wiring`` explains rounds): the
signals, orders or updates of one round are followed by one marker that carries the round's
market-event sequence number, its origin time (the monotonic ns from which latency is
measured) and its event time (the ``now_ns`` the gateway polls at). ``MARKER_END`` says the
stream is over (the stage drains and exits).
"""

from __future__ import annotations

import struct
from typing import Final, final

__all__ = [
    "MARKER_END",
    "MARKER_ROUND",
    "MARKER_TAG",
    "TAG_MARKET",
    "TAG_ORDER",
    "TAG_SIGNAL",
    "TAG_UPDATE",
    "Marker",
]

TAG_MARKET: Final = 1
TAG_SIGNAL: Final = 2
TAG_ORDER: Final = 4
TAG_UPDATE: Final = 5
MARKER_TAG: Final = 101

MARKER_ROUND: Final = 1
"""The end of one round: what came before it on this ring belongs to it."""
MARKER_END: Final = 2
"""The end of the stream: nothing follows; the receiving stage finishes and exits."""

_MARKER: Final = struct.Struct("<BBQqq")


@final
class Marker:
    """The end of a round (or of the stream) on a ring; see the module docstring."""

    __slots__ = ("kind", "now_ns", "origin_ns", "seq")

    SIZE: Final = _MARKER.size

    def __init__(self, kind: int, seq: int, origin_ns: int, now_ns: int) -> None:
        self.kind = kind
        self.seq = seq
        self.origin_ns = origin_ns
        self.now_ns = now_ns

    def pack(self) -> bytes:
        """Return this marker's record."""
        return _MARKER.pack(MARKER_TAG, self.kind, self.seq, self.origin_ns, self.now_ns)

    @classmethod
    def unpack(cls, raw: bytes) -> Marker:
        """Read a marker record (``ValueError`` if ``raw`` is not one)."""
        if len(raw) != _MARKER.size or raw[0] != MARKER_TAG:
            raise ValueError(f"expected a {_MARKER.size}-byte marker record, seen {raw[:16]!r}")
        _tag, kind, seq, origin, now = _MARKER.unpack(raw)
        if kind not in (MARKER_ROUND, MARKER_END):
            raise ValueError(f"marker kind must be {MARKER_ROUND} or {MARKER_END}, was {kind}")
        return cls(kind, seq, origin, now)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Marker):
            return NotImplemented
        return (self.kind, self.seq, self.origin_ns, self.now_ns) == (
            other.kind,
            other.seq,
            other.origin_ns,
            other.now_ns,
        )

    def __hash__(self) -> int:
        return hash((self.kind, self.seq, self.origin_ns, self.now_ns))

    def __repr__(self) -> str:
        return f"Marker(kind={self.kind}, seq={self.seq}, origin_ns={self.origin_ns})"
