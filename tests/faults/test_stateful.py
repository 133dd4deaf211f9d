"""Hypothesis state machine: commands, ticks, checkpoints, a full disk and crashes, mixed.

One journaled venue (4 KiB segments, a checkpoint every 40 commands) takes any sequence
of: a burst of stream commands, a tick, an explicit checkpoint, the disk filling up (every
segment creation in the directory fails, until freed), the space coming back, and a crash
(the venue is left as SIGKILL leaves it and a new one opens the directory). The model is
the list of acknowledged commands and ticks: after every crash the reopened venue must
hold exactly the acknowledged commands, in order, and books equal to a run of them on
fresh engines; while the disk is full a command is refused whole or acknowledged whole.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from faults.conftest import SEED
from faults.diskfull import DiskFull
from faults.harness import (
    LONG,
    TOTALS,
    Built,
    FaultFailure,
    Load,
    abandon,
    fault_count,
    open_venue,
    prepare,
    reference,
)
from whistle.coord.durability.datadir import iter_records
from whistle.coord.durability.records import Sequenced
from whistle.core.events import OrderRejected
from whistle.tools.crashload import crash_instruments, crash_stream, now_at

LOAD = Load(seed=SEED + 5, commands=6_000, checkpoint_every=40, segment_size=4096)
STREAM = crash_stream(LOAD.seed, LOAD.symbols, LOAD.commands)
REFUSED = [0]
"""Commands refused while the disk was full, over the whole run (the test checks > 0)."""


class CrashingVenue(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="whistle-stateful-"))
        self.data_dir = self.root / "venue"
        prepare(self.data_dir, LOAD.segment_size)
        self.built = Built(LOAD, self.data_dir)
        self.index = 0
        self.venue = open_venue(self.data_dir, LOAD)
        for instrument in crash_instruments(LOAD.symbols):
            self.venue.add_instrument(instrument)
        self.steps: list[str] = []
        # Installed last: teardown (which removes it) runs only once __init__ returned.
        self.full = DiskFull(self.data_dir, "recovery", 0)
        self._injector = self.full.installed()
        self._injector.__enter__()

    def _where(self) -> str:
        return f"seed {LOAD.seed}, steps {' '.join(self.steps[-30:])}"

    @rule(count=st.integers(1, 80))
    def send(self, count: int) -> None:
        self.steps.append(f"send{count}{'(full)' if self.full.armed else ''}")
        for _ in range(count):
            if self.index >= len(STREAM):
                return
            command = STREAM[self.index]
            self.index += 1
            try:
                result = self.venue.enqueue(command)
            except Exception as exc:
                if not self.full.armed:
                    raise FaultFailure(f"{self._where()}: refused with space: {exc!r}") from exc
                REFUSED[0] += 1
                continue
            if isinstance(result, OrderRejected):
                if not self.full.armed:
                    raise FaultFailure(
                        f"{self._where()}: rejected: {self.venue.last_reject_detail}"
                    )
                continue
            if result != self.built.last_enq_seq + 1:
                raise FaultFailure(
                    f"{self._where()}: enq_seq {result} after {self.built.last_enq_seq}"
                )
            self.built.acked.append((result, command))

    @rule()
    def tick(self) -> None:
        self.steps.append("tick")
        now = max(self.venue.now_ns, now_at(max(0, self.index - 1)))
        try:
            self.venue.tick(now)
        except Exception:
            # Refused (the disk is full): free the space and tick again at the same time;
            # a tick with nothing new to run changes no book, so the model holds one.
            self.free_space()
            self.venue.tick(now)
        self.built.ticks.append((len(self.built.acked), now))

    @rule()
    def checkpoint(self) -> None:
        self.steps.append("checkpoint")
        try:
            self.venue.checkpoint()
        except Exception as exc:
            # Refused between ticks (commands wait) or while full; never with a bare type.
            if type(exc).__name__ in ("OSError", "AttributeError", "TypeError", "KeyError"):
                raise FaultFailure(f"{self._where()}: checkpoint raised {exc!r}") from exc

    @rule(count=st.integers(120, 200))
    def fill_disk(self, count: int) -> None:
        # Full from now on; then enough commands to need two new segments (a segment
        # made ahead of time may still take the first roll).
        self.steps.append("full")
        self.full.armed = True
        self.full.freed = False
        self.send(count)

    @rule()
    def free_space(self) -> None:
        self.steps.append("free")
        self.full.armed = False
        self.full.freed = True

    @rule()
    def crash(self) -> None:
        self.steps.append("crash")
        abandon(self.venue)
        self.free_space()
        try:
            self.venue = open_venue(self.data_dir, LOAD)
        except Exception as exc:
            TOTALS["failed"] += 1
            raise FaultFailure(
                f"{self._where()}: the crashed venue does not reopen: {exc!r}"
            ) from exc
        journaled = [
            (r.enq_seq, r.command) for r in iter_records(self.data_dir) if isinstance(r, Sequenced)
        ]
        if journaled != self.built.acked:
            TOTALS["failed"] += 1
            raise FaultFailure(
                f"{self._where()}: the journal holds {len(journaled)} commands, acknowledged"
                f" {len(self.built.acked)} (or they differ)"
            )
        hashes, _ = reference(LOAD.symbols, self.built.acked, self.built.ticks)
        if self.venue.state_hashes() != hashes:
            TOTALS["failed"] += 1
            raise FaultFailure(f"{self._where()}: recovered books differ from the model")
        TOTALS["a"] += 1

    @invariant()
    def enq_seq_is_the_last_acknowledged(self) -> None:
        if self.venue.enq_seq != self.built.last_enq_seq:
            raise FaultFailure(
                f"{self._where()}: venue enq_seq {self.venue.enq_seq}, acknowledged"
                f" {self.built.last_enq_seq}"
            )

    def teardown(self) -> None:
        try:
            abandon(self.venue)
        finally:
            self._injector.__exit__(None, None, None)
            shutil.rmtree(self.root, ignore_errors=True)


CrashingVenue.TestCase.settings = settings(
    max_examples=fault_count(8, 0.03),
    stateful_step_count=25,
    deadline=None,
    database=None,
    derandomize=not LONG,
    suppress_health_check=[HealthCheck.too_slow],
)
test_commands_ticks_checkpoints_full_disks_and_crashes = CrashingVenue.TestCase


def test_the_state_machine_met_a_full_disk() -> None:
    # Runs after the machine (same module, file order): the full disk refused commands.
    assert REFUSED[0] > 0, "no command was ever refused for a full disk"
