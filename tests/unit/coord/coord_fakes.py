"""A recording fake ``EngineHost`` for the coordinator tests (no engines are created)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from whistle.coord.errors import HostDead, HostStateError
from whistle.coord.hosts.base import EngineHost
from whistle.core.instrument import Instrument

if TYPE_CHECKING:
    from whistle.core.commands import Command
    from whistle.core.events import Event


class FakeHost(EngineHost):
    """Records every call; ``fail_add`` / ``fail_remove`` make the next such call raise."""

    def __init__(self, host_id: int) -> None:
        self.host_id = host_id
        self.calls: list[tuple[str, object]] = []
        self.engines: dict[int, bytes] = {}
        self.fail_add = False
        self.fail_remove = False
        self.dead: str | None = None
        self.stopped = False
        self.gtd: dict[int, int] = {}  # live GTD orders per symbol, for live_gtd

    def add_engine(self, instrument: Instrument, snapshot: bytes = b"") -> None:
        self.calls.append(("add", (instrument.symbol_id, snapshot)))
        if self.fail_add:
            raise HostDead(f"host {self.host_id} refused add_engine")
        if instrument.symbol_id in self.engines:
            raise HostStateError(f"host {self.host_id} already runs {instrument.symbol_id}")
        self.engines[instrument.symbol_id] = snapshot

    def remove_engine(self, symbol_id: int) -> bytes:
        self.calls.append(("remove", symbol_id))
        if self.fail_remove:
            raise HostDead(f"host {self.host_id} died during remove_engine")
        del self.engines[symbol_id]
        return f"snap-{symbol_id}".encode()

    def snapshot(self, symbol_id: int) -> bytes:
        self.calls.append(("snapshot", symbol_id))
        return f"snap-{symbol_id}".encode()

    def live_gtd(self, symbol_id: int) -> int:
        return self.gtd.get(symbol_id, 0)

    def submit(self, enq_seq: int, command: Command) -> bool:
        self.calls.append(("submit", enq_seq))
        return True

    def begin_tick(self, now_ns: int) -> int:
        self.calls.append(("begin_tick", now_ns))
        return 1

    def end_tick(self, tick_id: int, timeout: float | None = None) -> list[Event]:
        self.calls.append(("end_tick", tick_id))
        return []

    @property
    def symbols(self) -> frozenset[int]:
        return frozenset(self.engines)

    def alive(self) -> bool:
        return self.dead is None

    def failure(self) -> str | None:
        return self.dead

    def stop(self, timeout: float | None = None) -> None:
        if self.stopped:
            raise HostStateError("already stopped")
        self.stopped = True


def inst(symbol: str, symbol_id: int = 0) -> Instrument:
    """An instrument with default grid."""
    return Instrument(symbol=symbol, symbol_id=symbol_id)
