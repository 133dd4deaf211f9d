"""The process runtime: each stage in its own pinned process, joined by SPSC rings.

``run_processes(config, source)`` is the supervisor. It writes the source and a
``ProcessSpec`` into a private run directory, creates the five rings and the control block
(``control``), starts the four stage processes (``python -m whistle.trading.pipeline``,
a fresh interpreter each, as ``ProcessHost`` does),
waits until every stage is up, sets GO (the source's start time) and then watches them
until the stream has ended in every stage. The decisions are the same as
``run_inprocess``'s for the same config and source (``wiring`` explains why).

Pinning: the stages are spread over the CPUs this process may use
(``os.sched_getaffinity``): stage ``i`` goes to CPU ``cpus[i * len(cpus) // 4]``, so on
2 CPUs market data + strategy share the first and risk + gateway the second; on 4 or more
each stage has its own. A stage that cannot pin (not allowed) runs unpinned.

Waiting: every stage idles with ``wait`` (``whistle.ipc.WaitStrategy`` spec; default
``"yield"``: spin 200 times, then ``sched_yield``, then sleep), which suits two stages
sharing a core: a waiting stage gives its core to the other at once.

Failures (never a hang; each check has a deadline):

- a stage process that exits before the stream ended, or whose heartbeat is older than
  ``dead_after_s`` (it is SIGKILLed then), is *dead*; so is the run when it passes
  ``timeout_s``;
- the strategy stage dead (a strategy stuck in a callback that the ``CallbackBudget`` could
  not interrupt, a crash): the supervisor sets KILL and ABORT; risk trips its kill switch,
  sends the cancel of every open order through the gateway, waits for the venue's answers
  and ends the stream; market data stops;
- any other stage dead: ABORT; the remaining stages stop;
- then the supervisor waits (up to ``stop_timeout_s``) for the rest, kills what is left,
  and raises ``StageFailed`` naming the stage and the cause, with the partial result
  (``.result``: what the stages that finished reported, e.g. the kill switch's cancels).

``finally``: every child still alive is killed and reaped, rings and control block are
closed and unlinked, the run directory is removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import TYPE_CHECKING, Final

import msgspec

from whistle.ipc import SpscRing, WaitStrategy, cleanup_stale, make_name
from whistle.metrics.recorder import LatencyRecorder
from whistle.trading.pipeline.config import STAGES
from whistle.trading.pipeline.control import (
    ABORT,
    ABORT_ALL,
    ABORT_FEED,
    GO,
    KILL,
    STATE_DONE,
    STATE_RUNNING,
    ControlBlock,
)
from whistle.trading.pipeline.errors import StageFailed
from whistle.trading.pipeline.result import (
    PipelineResult,
    StageReport,
    latency_summary,
    merge_slots,
)
from whistle.trading.pipeline.stage_main import RINGS, ProcessSpec, encode_source

if TYPE_CHECKING:
    from collections.abc import Iterable

    from whistle.core.events import Event
    from whistle.core.mbo import MboEvent
    from whistle.trading.messages import MarketEvent
    from whistle.trading.pipeline.config import PipelineConfig

__all__ = ["STAGE_NAMES", "run_processes", "stage_cpus"]

STAGE_NAMES: Final = ("market data", "strategy", "risk", "gateway")
_STRATEGY: Final = 1
_POLL_S: Final = 0.002
_KILL_WAIT_S: Final = 5.0


def stage_cpus(cpus: Iterable[int] | None = None) -> list[int]:
    """Return the CPU of each of the four stages (see the module docstring)."""
    if cpus is None:
        cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else ()
    ordered = sorted(cpus)
    if not ordered:
        return [-1, -1, -1, -1]
    n = len(ordered)
    return [ordered[i * n // 4] for i in range(4)]


def _exit_cause(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


class _Supervisor:
    def __init__(
        self,
        config: PipelineConfig,
        source: Iterable[MboEvent | MarketEvent | Event],
        *,
        rate: int,
        metrics: bool,
        wait: str,
        ring_capacity: int,
        dead_after_s: float,
        start_timeout_s: float,
        timeout_s: float | None,
        stop_timeout_s: float,
        cpus: Iterable[int] | None,
        metrics_block: str,
    ) -> None:
        WaitStrategy.parse(wait)  # refuse a bad spec here, not in four children
        if not dead_after_s > 0:
            raise ValueError(f"dead_after_s must be positive, was {dead_after_s}")
        if config.callback_budget_ns >= dead_after_s * 1e9:
            raise ValueError(
                f"dead_after_s ({dead_after_s} s) must exceed the callback budget "
                f"({config.callback_budget_ns / 1e9} s): a strategy stage inside a long "
                "callback sends no heartbeat"
            )
        self.config = config
        self.metrics_block = metrics_block
        self.rate = rate
        self.metrics = metrics
        self.wait = wait
        self.dead_after_ns = int(dead_after_s * 1e9)
        self.dead_after_s = dead_after_s
        self.start_timeout_s = start_timeout_s
        self.timeout_s = timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.cpus = stage_cpus(cpus)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.rings: dict[str, SpscRing] = {}
        self.ctl: ControlBlock | None = None
        data = encode_source(source)  # a bad item is refused before anything is created
        self.dir = tempfile.mkdtemp(prefix="whistle-pipeline-")
        source_path = os.path.join(self.dir, "source.msgpack")
        with open(source_path, "wb") as f:
            f.write(data)
        self.source_path = source_path
        self.ring_capacity = ring_capacity

    # ------------------------------------------------------------------ setup

    def start(self) -> None:
        cleanup_stale()
        for name in RINGS:
            self.rings[name] = SpscRing.create(make_name(f"p{name}"), self.ring_capacity)
        self.ctl = ControlBlock.create()
        spec = ProcessSpec(
            config=self.config,
            rings={name: ring.name for name, ring in self.rings.items()},
            control=self.ctl.name,
            cpus=self.cpus,
            wait=self.wait,
            parent_pid=os.getpid(),
            source=self.source_path,
            rate=self.rate,
            metrics=self.metrics,
            report_dir=self.dir,
            metrics_block=self.metrics_block,
        )
        spec_path = os.path.join(self.dir, "spec.msgpack")
        with open(spec_path, "wb") as f:
            f.write(msgspec.msgpack.encode(spec))
        env = dict(os.environ)
        # The children import what this process imports (a strategy module found through
        # sys.path here, e.g. a test's directory, is found there too).
        paths = [p for p in sys.path if p]
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
        env["PYTHONPATH"] = os.pathsep.join([root, *paths])
        for stage in range(4):
            self.procs.append(
                subprocess.Popen(  # noqa: S603 - our own interpreter and module
                    [
                        sys.executable,
                        "-m",
                        "whistle.trading.pipeline",
                        spec_path,
                        str(stage),
                    ],
                    env=env,
                    stdin=subprocess.DEVNULL,
                )
            )
        deadline = time.monotonic() + self.start_timeout_s
        ctl = self.ctl
        while not all(ctl.state(i) >= STATE_RUNNING for i in range(4)):
            self._check_exits(started=False)
            if time.monotonic() > deadline:
                waiting = [STAGE_NAMES[i] for i in range(4) if ctl.state(i) < STATE_RUNNING]
                raise StageFailed(
                    ", ".join(waiting),
                    f"did not start within {self.start_timeout_s} s",
                    self._partial(),
                )
            time.sleep(_POLL_S)
        ctl.words[GO] = time.monotonic_ns() + 1_000_000

    # ------------------------------------------------------------------ watching

    def _check_exits(self, *, started: bool) -> None:
        """Raise StageFailed for a stage that exited before its stream ended."""
        assert self.ctl is not None
        for i, proc in enumerate(self.procs):
            code = proc.poll()
            if code is not None and self.ctl.state(i) != STATE_DONE:
                self._fail(i, _exit_cause(code) + self._stage_error(i))

    def _stage_error(self, stage: int) -> str:
        report = self._report(stage)
        if report is not None and report.error:
            return ": " + report.error.strip().splitlines()[0]
        return ""

    def watch(self) -> None:
        assert self.ctl is not None
        ctl = self.ctl
        deadline = None if self.timeout_s is None else time.monotonic() + self.timeout_s
        while not all(ctl.state(i) == STATE_DONE for i in range(4)):
            self._check_exits(started=True)
            now = time.monotonic_ns()
            for i in range(4):
                if ctl.state(i) == STATE_DONE:
                    continue
                age = now - ctl.heartbeat(i)
                if age > self.dead_after_ns:
                    self.procs[i].kill()
                    self.procs[i].wait(_KILL_WAIT_S)
                    self._fail(
                        i,
                        f"sent no heartbeat for {age / 1e9:.3f} s (dead after "
                        f"{self.dead_after_s} s); killed it",
                    )
            if deadline is not None and time.monotonic() > deadline:
                busy = [STAGE_NAMES[i] for i in range(4) if ctl.state(i) != STATE_DONE]
                self._abort_all()
                raise StageFailed(
                    ", ".join(busy),
                    f"the run did not finish within {self.timeout_s} s",
                    self._partial(),
                )
            time.sleep(_POLL_S)

    def _fail(self, stage: int, cause: str) -> None:
        """Handle a dead stage (see the module docstring), then raise StageFailed."""
        assert self.ctl is not None
        words = self.ctl.words
        if stage == _STRATEGY:
            words[KILL] = 1
            words[ABORT] = ABORT_FEED
            # Risk and the gateway cancel every open order, then end: give them time.
            deadline = time.monotonic() + self.stop_timeout_s
            for i in (2, 3):
                proc = self.procs[i]
                while proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(_POLL_S)
        self._abort_all()
        raise StageFailed(STAGE_NAMES[stage], cause, self._partial())

    def _abort_all(self) -> None:
        assert self.ctl is not None
        self.ctl.words[ABORT] = ABORT_ALL
        deadline = time.monotonic() + self.stop_timeout_s
        for proc in self.procs:
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(_POLL_S)
        # Whatever did not stop in time (stuck, or waiting on a dead peer) is killed.
        self._kill_all()

    def _kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(_KILL_WAIT_S)

    # ------------------------------------------------------------------ results

    def _report(self, stage: int) -> StageReport | None:
        path = os.path.join(self.dir, f"stage-{stage}.msgpack")
        try:
            with open(path, "rb") as f:
                return msgspec.msgpack.decode(f.read(), type=StageReport)
        except FileNotFoundError:
            return None

    def _partial(self) -> PipelineResult:
        return self.result(time.perf_counter())

    def result(self, t0: float) -> PipelineResult:
        reports = [self._report(i) for i in range(4)]
        counts: dict[str, int] = {}
        recorder = LatencyRecorder(STAGES) if self.metrics else None
        out = PipelineResult(mode="processes")
        for rep in reports:
            if rep is None:
                continue
            for key, n in rep.counts.items():
                counts[key] = counts.get(key, 0) + n
            if recorder is not None and rep.latency:
                merge_slots(recorder, rep.latency)
        out.stage_cpus = [rep.cpus if rep is not None else [] for rep in reports]
        _md, st, rk, gw = reports
        if st is not None:
            out.signals = st.signals
            out.failures = st.failures
        if rk is not None:
            out.decisions = rk.decisions
        if gw is not None:
            out.orders = gw.orders
            out.updates = gw.updates
        out.feed_events = counts.pop("feed_events", 0)
        out.market_events = counts.pop("market_events", 0)
        out.rounds = counts.pop("rounds", 0)
        out.open_orders = counts.pop("open_orders", 0)
        counts.pop("ignored", None)
        t_start = counts.pop("t_start_ns", 0)
        t_end = counts.pop("t_end_ns", 0)
        if t_start and t_end > t_start:
            out.active_seconds = (t_end - t_start) / 1e9
        out.counts = counts
        out.seconds = time.perf_counter() - t0
        out.latency_ns = latency_summary(recorder) if recorder is not None else {}
        return out

    # ------------------------------------------------------------------ teardown

    def close(self) -> None:
        try:
            self._kill_all()
        finally:
            for ring in self.rings.values():
                ring.close()
            if self.ctl is not None:
                self.ctl.close()
            shutil.rmtree(self.dir, ignore_errors=True)


def run_processes(
    config: PipelineConfig,
    source: Iterable[MboEvent | MarketEvent | Event],
    *,
    rate: int = 0,
    metrics: bool = False,
    wait: str = "yield",
    ring_capacity: int = 1 << 20,
    dead_after_s: float = 5.0,
    start_timeout_s: float = 30.0,
    timeout_s: float | None = None,
    stop_timeout_s: float = 10.0,
    cpus: Iterable[int] | None = None,
    metrics_block: str | None = None,
) -> PipelineResult:
    """Run ``source`` through four stage processes; see the module docstring.

    ``rate`` > 0 paces the source (events per second, latency from intended send times);
    ``metrics`` records per-stage latency in every stage (the stage loops choose their
    metric code once, at start); ``wait`` is the idle ``WaitStrategy`` spec; ``ring_capacity``
    the bytes of each ring. ``metrics_block`` names a ``whistle.metrics.MetricsBlock`` the
    caller created with ``STAGES`` (it implies ``metrics``): every stage publishes its
    histograms there every 100 ms, for ``whistle metrics NAME`` or Prometheus, with no I/O.
    Raises ``StageFailed`` (with ``.result``) when a stage dies.
    """
    config.check()
    if metrics_block:
        metrics = True
    sup = _Supervisor(
        config,
        source,
        rate=rate,
        metrics=metrics,
        wait=wait,
        ring_capacity=ring_capacity,
        dead_after_s=dead_after_s,
        start_timeout_s=start_timeout_s,
        timeout_s=timeout_s,
        stop_timeout_s=stop_timeout_s,
        cpus=cpus,
        metrics_block=metrics_block or "",
    )
    try:
        t0 = time.perf_counter()
        sup.start()
        sup.watch()
        for proc in sup.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(stop_timeout_s)
        result = sup.result(t0)
        errors = [(i, sup._stage_error(i)) for i in range(4) if sup._stage_error(i)]
        if errors:
            i, error = errors[0]
            raise StageFailed(STAGE_NAMES[i], "failed" + error, result)
        return result
    finally:
        sup.close()
