"""Messages between the router side and an engine host, and their encoding.

Router -> host (one ring per host, in this order of meaning):

- ``HostTick(now_ns, tick_id, commands)``: queue ``commands`` (``(enq_seq, command)``
  pairs, in ``enq_seq`` order: every command routed to the host since its last tick), then
  tick every engine of the host at ``now_ns`` (expiry, then queued commands in ``enq_seq``
  order) and send back one ``EventBatch`` for this tick. One record per tick per host,
  encoded and decoded with one msgspec call each;
- ``HostCommands(commands)``: the leading part of a tick's commands when they do not fit
  in one ring record (the ``HostTick`` that follows carries the rest);
- ``AddEngine(instrument, snapshot)``: create an engine (cold, or restored from snapshot);
- ``RemoveEngine(symbol_id)``: snapshot the engine, send ``EngineRemoved``, forget it;
- ``TakeSnapshot(symbol_id)``: send ``SnapshotTaken`` without stopping the engine;
- ``StopHost()``: answer ``HostStopped`` and exit the loop.

Host -> router: ``EventBatch``, ``Heartbeat``, ``EngineAdded``, ``EngineRemoved``,
``SnapshotTaken``, ``HostStopped``, ``HostFailed``.

Everything is a msgspec Struct with an integer tag, encoded as msgpack by one reused
encoder per side. A host handles messages strictly in ring order, which is what makes a
multi-process venue produce the same per-symbol events as the in-process one.
"""

from __future__ import annotations

from typing import final

import msgspec

from whistle.core.commands import Command
from whistle.core.events import Event
from whistle.core.instrument import Instrument

__all__ = [
    "AddEngine",
    "EngineAdded",
    "EngineRemoved",
    "EventBatch",
    "Heartbeat",
    "HostCommands",
    "HostFailed",
    "HostInbound",
    "HostOutbound",
    "HostStopped",
    "HostTick",
    "RemoveEngine",
    "SnapshotTaken",
    "StopHost",
    "TakeSnapshot",
    "WireCodec",
]


class _Msg(msgspec.Struct, frozen=True, gc=False, array_like=True, tag_field="m"):
    pass


@final
class HostCommands(_Msg, frozen=True, array_like=True, tag=1):
    """Sequenced commands for the engines of the host: ``(enq_seq, command)`` pairs."""

    commands: list[tuple[int, Command]]


@final
class HostTick(_Msg, frozen=True, array_like=True, tag=2):
    """Queue ``commands``, tick every engine at ``now_ns``; answer with one ``EventBatch``."""

    now_ns: int
    tick_id: int
    commands: list[tuple[int, Command]] = []


@final
class AddEngine(_Msg, frozen=True, array_like=True, tag=3):
    """Create an engine: cold when ``snapshot`` is empty, else restored from it (msgpack)."""

    instrument: Instrument
    snapshot: bytes = b""


@final
class RemoveEngine(_Msg, frozen=True, gc=False, array_like=True, tag=4):
    """Snapshot an engine, answer ``EngineRemoved`` with the snapshot, forget the engine."""

    symbol_id: int


@final
class TakeSnapshot(_Msg, frozen=True, gc=False, array_like=True, tag=5):
    """Answer ``SnapshotTaken`` with the engine's snapshot; the engine keeps running."""

    symbol_id: int


@final
class StopHost(_Msg, frozen=True, gc=False, array_like=True, tag=6):
    """Finish what is queued, answer ``HostStopped`` and exit."""


@final
class EventBatch(_Msg, frozen=True, array_like=True, tag=11):
    """The events of one tick of one host, in the order its engines produced them."""

    host_id: int
    tick_id: int
    now_ns: int
    events: list[Event]


@final
class Heartbeat(_Msg, frozen=True, gc=False, array_like=True, tag=12):
    """Sent by an idle or busy host at least every heartbeat interval."""

    host_id: int
    monotonic_ns: int
    engines: int
    commands: int


@final
class EngineAdded(_Msg, frozen=True, gc=False, array_like=True, tag=13):
    """The engine for ``symbol_id`` exists and takes commands."""

    host_id: int
    symbol_id: int


@final
class EngineRemoved(_Msg, frozen=True, array_like=True, tag=14):
    """The engine was removed; ``snapshot`` (msgpack) holds its final state."""

    host_id: int
    symbol_id: int
    snapshot: bytes


@final
class SnapshotTaken(_Msg, frozen=True, array_like=True, tag=15):
    """A snapshot of a running engine (msgpack)."""

    host_id: int
    symbol_id: int
    snapshot: bytes


@final
class HostStopped(_Msg, frozen=True, gc=False, array_like=True, tag=16):
    """The host finished and is exiting."""

    host_id: int


@final
class HostFailed(_Msg, frozen=True, array_like=True, tag=17):
    """The host hit an error outside any engine (bad message, I/O) and is exiting."""

    host_id: int
    detail: str


HostInbound = HostCommands | HostTick | AddEngine | RemoveEngine | TakeSnapshot | StopHost
HostOutbound = (
    EventBatch | Heartbeat | EngineAdded | EngineRemoved | SnapshotTaken | HostStopped | HostFailed
)


@final
class WireCodec:
    """One reused msgpack encoder and the two typed decoders."""

    def __init__(self) -> None:
        self._encoder = msgspec.msgpack.Encoder()
        self._inbound: msgspec.msgpack.Decoder[HostInbound] = msgspec.msgpack.Decoder(HostInbound)
        self._outbound: msgspec.msgpack.Decoder[HostOutbound] = msgspec.msgpack.Decoder(
            HostOutbound
        )

    def encode(self, message: HostInbound | HostOutbound) -> bytes:
        """Return ``message`` as msgpack bytes."""
        return self._encoder.encode(message)

    def decode_inbound(self, data: bytes | memoryview) -> HostInbound:
        """Decode a router -> host message."""
        return self._inbound.decode(data)

    def decode_outbound(self, data: bytes | memoryview) -> HostOutbound:
        """Decode a host -> router message."""
        return self._outbound.decode(data)
