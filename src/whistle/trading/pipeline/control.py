"""The control block shared by the supervisor and the stage processes (POSIX shm).

Layout: unsigned 64-bit words (``memoryview.cast("Q")``; aligned 8-byte stores are atomic on
x86-64, see ``whistle.ipc.ring``)::

    word 0  GO       0 until every stage is up; then the monotonic ns the source starts at
    word 1  ABORT    ABORT_FEED (1): market data and strategy stop now; ABORT_ALL (2): every
                     stage stops now (a stage died, a timeout)
    word 2  KILL     1: the strategy stage is gone; risk trips its kill switch, cancels every
                     open order through the gateway, then ends the stream
    word 8 + 8*i     stage i: heartbeat (monotonic ns), state, pid, events handled

A stage writes only its own words; the supervisor writes GO, ABORT and KILL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, final

from whistle.ipc.shm import make_name, open_block, unlink_block

if TYPE_CHECKING:
    from multiprocessing.shared_memory import SharedMemory

__all__ = [
    "ABORT",
    "ABORT_ALL",
    "ABORT_FEED",
    "GO",
    "KILL",
    "STATE_DONE",
    "STATE_FAILED",
    "STATE_RUNNING",
    "STATE_STARTING",
    "ControlBlock",
]

GO: Final = 0
ABORT: Final = 1
ABORT_FEED: Final = 1
ABORT_ALL: Final = 2
KILL: Final = 2
_BASE: Final = 8
_STRIDE: Final = 8
_HEARTBEAT: Final = 0
_STATE: Final = 1
_PID: Final = 2
_HANDLED: Final = 3

STATE_STARTING: Final = 0
STATE_RUNNING: Final = 1
STATE_DONE: Final = 2
STATE_FAILED: Final = 3

_STAGES: Final = 4
_SIZE: Final = 8 * (_BASE + _STRIDE * _STAGES)


@final
class ControlBlock:
    """Words of the supervisor / stage protocol (see the module docstring)."""

    __slots__ = ("_block", "_closed", "_owner", "name", "words")

    def __init__(self, block: SharedMemory, *, owner: bool) -> None:
        buf = block.buf
        if buf is None or len(buf) < _SIZE:
            raise ValueError(f"control block {block.name!r} is not a pipeline control block")
        self._block = block
        self._owner = owner
        self._closed = False
        self.name = block.name
        self.words = buf[:_SIZE].cast("Q")

    @classmethod
    def create(cls) -> ControlBlock:
        """Create a zeroed block (the supervisor owns it and unlinks it on ``close``)."""
        block = open_block(make_name("pctl"), create=True, size=_SIZE)
        buf = block.buf
        assert buf is not None
        buf[:_SIZE] = bytes(_SIZE)
        return cls(block, owner=True)

    @classmethod
    def attach(cls, name: str) -> ControlBlock:
        """Open the supervisor's block from a stage process."""
        return cls(open_block(name, create=False), owner=False)

    @staticmethod
    def word(stage: int, field: int) -> int:
        """Return the index of ``field`` (0 heartbeat, 1 state, 2 pid, 3 handled) of a stage."""
        return _BASE + _STRIDE * stage + field

    def heartbeat(self, stage: int) -> int:
        """Return the stage's last heartbeat (monotonic ns; 0 before the first)."""
        return int(self.words[_BASE + _STRIDE * stage + _HEARTBEAT])

    def state(self, stage: int) -> int:
        """Return the stage's ``STATE_*``."""
        return int(self.words[_BASE + _STRIDE * stage + _STATE])

    def handled(self, stage: int) -> int:
        """Return how many items the stage has handled (its own count)."""
        return int(self.words[_BASE + _STRIDE * stage + _HANDLED])

    def close(self) -> None:
        """Release the mapping; the owner also unlinks the block. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.words.release()
        self._block.close()
        if self._owner:
            unlink_block(self._block)
