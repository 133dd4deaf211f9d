"""The stage processes of ``run_processes``: one per stage, joined by SPSC rings.

``python -m whistle.trading.pipeline SPEC_FILE STAGE`` (the supervisor starts it) pins
itself to its CPU, attaches the rings and the control block, builds its stage with
``wiring.STAGE_BUILDERS`` and runs that stage's loop. The rings (each bounded)::

    md   1 market data -> 2 strategy   MarketEvent
    sig  2 strategy    -> 3 risk       MarketEvent (forwarded), SignalEvent, Marker
    ord  3 risk        -> 4 gateway    Order, Marker
    gu   4 gateway     -> 3 risk       OrderUpdate, Marker
    fb   3 risk        -> 2 strategy   OrderUpdate (risk's rejects, then the gateway's), Marker

A round (``wiring``) is the records before a ``Marker``; the strategy stage waits for the
marker to come back on ``fb`` before it handles the next market event.

Backpressure: a full ring makes its producer wait (the hybrid ``WaitStrategy``: spin, then
``sched_yield``, then sleep), heartbeating and watching the control block while it waits;
nothing is ever dropped, except updates for a strategy stage that is known to be dead
(``KILL``), which nobody could read. Idle consumers wait the same way.

Exit: every stage writes its ``StageReport`` (msgpack) into the run directory, then its
final state (done or failed) into the control block, and exits 0 (done), 1 (failed: the
report's ``error`` says why) or 4 (aborted by the supervisor, or its parent died).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import traceback
from typing import TYPE_CHECKING, Final, Union

import msgspec

from whistle.core.events import EVENT_TYPES, Event
from whistle.core.mbo import MBO_EVENT_TYPES, MboEvent
from whistle.ipc import SpscRing, WaitStrategy
from whistle.metrics.block import MetricsBlock, Publisher
from whistle.metrics.recorder import LatencyRecorder
from whistle.trading.messages import (
    MarketEvent,
    MarketKind,
    Order,
    OrderUpdate,
    RiskReason,
    SignalEvent,
)
from whistle.trading.pipeline.config import STAGES, PipelineConfig
from whistle.trading.pipeline.control import (
    ABORT,
    ABORT_ALL,
    ABORT_FEED,
    GO,
    KILL,
    STATE_DONE,
    STATE_FAILED,
    STATE_RUNNING,
    ControlBlock,
)
from whistle.trading.pipeline.pacing import Pacer
from whistle.trading.pipeline.records import (
    MARKER_END,
    MARKER_ROUND,
    MARKER_TAG,
    TAG_MARKET,
    TAG_ORDER,
    TAG_SIGNAL,
    Marker,
)
from whistle.trading.pipeline.result import StageReport, recorder_slots
from whistle.trading.pipeline.wiring import BARRIER_KINDS, STAGE_BUILDERS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from whistle.trading.pipeline.market_data import MarketDataStage
    from whistle.trading.pipeline.order_stages import GatewayStage, RiskStage
    from whistle.trading.pipeline.strategy_stage import StrategyStage

__all__ = [
    "EXIT_ABORTED",
    "EXIT_DONE",
    "EXIT_FAILED",
    "RINGS",
    "ProcessSpec",
    "SourceItem",
    "decode_source",
    "encode_source",
    "main",
]

EXIT_DONE: Final = 0
EXIT_FAILED: Final = 1
EXIT_ABORTED: Final = 4
RINGS: Final = ("md", "sig", "ord", "gu", "fb")
_POP: Final = 256
_END: Final = MarketKind.END
_OWNED: Final = (
    (STAGES[0],),
    (STAGES[1],),
    (STAGES[2],),
    (STAGES[3], STAGES[4]),
)
"""The latency stages each stage process records (and publishes to a metrics block)."""
_MAX_ROUNDS: Final = 100  # as in inprocess: the same rule in both runtimes


SourceItem = MboEvent | MarketEvent | Event
"""What a pipeline source yields: feed events, a venue's events, or ready MarketEvents."""


class ProcessSpec(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a stage process needs, written by the supervisor as msgpack."""

    config: PipelineConfig
    rings: dict[str, str]
    control: str
    cpus: list[int]
    """The CPU of each stage (-1: not pinned)."""
    wait: str
    parent_pid: int
    source: str
    rate: int
    metrics: bool
    report_dir: str
    metrics_block: str = ""
    """A ``whistle.metrics.MetricsBlock`` (stages ``STAGES``) each stage publishes into."""


_ITEM_MARKET: Final = b"M"
_ITEM_MBO: Final = b"E"
_ITEM_VENUE: Final = b"V"
_venue_decoder: msgspec.msgpack.Decoder[Event] = msgspec.msgpack.Decoder(
    Union[EVENT_TYPES]  # noqa: UP007 - a tuple of types
)
_mbo_encoder = msgspec.msgpack.Encoder()
_mbo_decoder: msgspec.msgpack.Decoder[MboEvent] = msgspec.msgpack.Decoder(
    Union[MBO_EVENT_TYPES]  # noqa: UP007 - a tuple of types
)


def encode_source(items: Iterable[SourceItem]) -> bytes:
    """Encode feed events, venue events and raw ``MarketEvent``s for the market-data stage."""
    out: list[bytes] = []
    buf = bytearray(MarketEvent.SIZE)
    for item in items:
        if type(item) is MarketEvent:
            item.pack_into(buf)
            out.append(_ITEM_MARKET + bytes(buf))
        elif isinstance(item, MboEvent):
            out.append(_ITEM_MBO + _mbo_encoder.encode(item))
        elif isinstance(item, EVENT_TYPES):
            out.append(_ITEM_VENUE + _mbo_encoder.encode(item))
        else:
            raise TypeError(
                f"a source yields MboEvent, whistle venue Event or MarketEvent items, seen {item!r}"
            )
    return _mbo_encoder.encode(out)


def decode_source(data: bytes) -> list[SourceItem]:
    """Decode what ``encode_source`` wrote."""
    out: list[SourceItem] = []
    for raw in msgspec.msgpack.decode(data, type=list[bytes]):
        head = raw[:1]
        if head == _ITEM_MARKET:
            out.append(MarketEvent.unpack_from(raw, 1))
        elif head == _ITEM_VENUE:
            out.append(_venue_decoder.decode(raw[1:]))
        else:
            out.append(_mbo_decoder.decode(raw[1:]))
    return out


class _Aborted(Exception):
    """The supervisor aborted the run, or the parent process is gone."""


class _StageProcess:
    """What every stage process shares: rings, heartbeat, waits that watch the control."""

    def __init__(self, spec: ProcessSpec, stage: int) -> None:
        self.spec = spec
        self.stage = stage
        self.ctl = ControlBlock.attach(spec.control)
        self.words = self.ctl.words
        self.hb = ControlBlock.word(stage, 0)
        self.handled_word = ControlBlock.word(stage, 3)
        self.wait = WaitStrategy.parse(spec.wait)
        self.rings: dict[str, SpscRing] = {}
        self.report = StageReport(stage=stage)
        self.recorder: LatencyRecorder | None = None
        self.block: MetricsBlock | None = None
        self.publisher: Publisher | None = None
        self.publish: Callable[[int], object] = _no_publish
        if spec.metrics and spec.metrics_block:
            # Live metrics: record into the block's layout, publish this stage's histograms
            # every 100 ms (from the metered steps only) for `whistle metrics NAME`.
            self.block = MetricsBlock.attach(spec.metrics_block)
            self.recorder = self.block.recorder()
            self.publisher = self.block.publisher(self.recorder, stages=_OWNED[stage])
            self.publish = self.publisher.publish_if_due
        elif spec.metrics:
            self.recorder = LatencyRecorder(STAGES)
        self.abortable = True
        """False for risk and gateway: they stop only on ``ABORT_ALL`` (on ``ABORT_FEED`` they
        go on until the stream ends, e.g. to cancel every order after the strategy stage
        died)."""

    def attach(self, *names: str) -> None:
        for name in names:
            self.rings[name] = SpscRing.attach(self.spec.rings[name], wait=self.wait)

    def beat(self) -> None:
        self.words[self.hb] = time.monotonic_ns()

    def running(self) -> None:
        """Say the stage is built and running, with a fresh heartbeat (building it, e.g.
        importing a strategy's module or starting a venue, may take longer than
        ``dead_after_s`` on a loaded machine)."""
        self.beat()
        self.words[ControlBlock.word(self.stage, 1)] = STATE_RUNNING

    def check(self) -> None:
        words = self.words
        if words[ABORT] >= (ABORT_FEED if self.abortable else ABORT_ALL):
            raise _Aborted("aborted by the supervisor")
        if os.getppid() != self.spec.parent_pid:
            raise _Aborted("the supervisor process is gone")

    def push(self, ring: SpscRing, data: bytes | bytearray) -> None:
        """Push one record, waiting for room (backpressure); never drop it."""
        if ring.try_push(data):
            return
        idle = self.wait.idle
        attempt = 0
        while not ring.try_push(data):
            if attempt & 63 == 0:
                self.beat()
                self.check()
            idle(attempt)
            attempt += 1

    def pop(self, ring: SpscRing, *, watch_kill: bool = False) -> list[bytes]:
        """Pop up to a batch of records, waiting while the ring is empty.

        ``watch_kill``: raise ``_StrategyGone`` if the supervisor sets KILL meanwhile (risk,
        between rounds).
        """
        raws = ring.pop_many(_POP)
        if raws:
            self.words[self.hb] = time.monotonic_ns()
            return raws
        idle = self.wait.idle
        words = self.words
        attempt = 0
        while True:
            if attempt & 63 == 0:
                self.beat()
                self.check()
                if watch_kill and words[KILL]:
                    raise _StrategyGone
            idle(attempt)
            attempt += 1
            raws = ring.pop_many(_POP)
            if raws:
                self.words[self.hb] = time.monotonic_ns()
                return raws

    def count(self, key: str, n: int = 1) -> None:
        counts = self.report.counts
        counts[key] = counts.get(key, 0) + n

    def close(self) -> None:
        if self.publisher is not None:
            self.publisher.close()  # a final publish, and the claim released
        if self.block is not None:
            self.block.close()
        for ring in self.rings.values():
            ring.close()
        self.ctl.close()


def _no_publish(now_ns: int) -> None:
    """No metrics block: nothing to publish."""


# -- 1. market data ------------------------------------------------------------------------


class _MarketDataProcess(_StageProcess):
    def run(self) -> None:
        self.attach("md")
        md: MarketDataStage = STAGE_BUILDERS[0](self.spec.config)
        with open(self.spec.source, "rb") as f:
            source = decode_source(f.read())
        ring = self.rings["md"]
        push = self.push
        buf = bytearray(MarketEvent.SIZE)
        words = self.words
        self.running()
        while not words[GO]:
            self.beat()
            self.check()
            time.sleep(0.0005)
        pacer = Pacer(self.spec.rate, start_ns=int(words[GO]))
        self.report.counts["t_start_ns"] = int(words[GO])
        on_event = md.on_event
        monotonic_ns = time.monotonic_ns
        hb = self.hb
        nxt = self.metered_origin(pacer.next) if self.recorder is not None else pacer.next
        n = 0
        last_ts = 0
        ended = False
        for item in source:
            if words[ABORT]:
                raise _Aborted("aborted by the supervisor")
            origin = nxt()
            # A heartbeat per event (a slow offered rate is not a dead stage). Not ``origin``:
            # behind schedule, intended times lag the clock and would look stale.
            words[hb] = monotonic_ns()
            n += 1
            for ev in on_event(item, origin):
                ev.pack_into(buf)
                push(ring, buf)
                last_ts = ev.ts_ns
                if ev.kind is _END:
                    ended = True
                    break
            if ended:
                break
            if n & 255 == 0:
                words[self.handled_word] = n
        if not ended:
            md.end(last_ts, monotonic_ns()).pack_into(buf)
            push(ring, buf)
        words[self.handled_word] = n
        self.report.counts["feed_events"] = n
        self.report.counts["ignored"] = md.ignored

    def metered_origin(self, nxt: Callable[[], int]) -> Callable[[], int]:
        """``nxt`` that also records the time into this stage (the metered loop only)."""
        rec = self.recorder
        assert rec is not None
        record = rec.record
        publish = self.publish
        monotonic_ns = time.monotonic_ns

        def origin() -> int:
            t = nxt()
            now = monotonic_ns()
            record(0, now - t)
            publish(now)
            return t

        return origin


# -- 2. strategy ---------------------------------------------------------------------------


class _StrategyProcess(_StageProcess):
    def run(self) -> None:
        self.attach("md", "sig", "fb")
        stage: StrategyStage = STAGE_BUILDERS[1](self.spec.config)
        self.stage_obj = stage
        self.sbuf = bytearray(SignalEvent.SIZE)
        budget = stage.budget
        if budget is not None:
            budget.arm()
        self.running()
        try:
            self._loop(stage)
        finally:
            if budget is not None:
                budget.disarm()
            rep = self.report
            rep.failures = [f.as_dict() for f in stage.failures]
            rep.counts["open_orders"] = stage.open_orders()

    def _loop(self, stage: StrategyStage) -> None:
        md = self.rings["md"]
        sig = self.rings["sig"]
        push = self.push
        pop = self.pop
        rounds = self._rounds
        on_market = stage.on_market
        unpack = self._metered_unpack() if self.recorder is not None else MarketEvent.unpack_from
        monotonic_ns = time.monotonic_ns
        barrier = BARRIER_KINDS
        start = stage.start(0)
        if start:
            rounds(start, Marker(MARKER_ROUND, 0, monotonic_ns(), 0))
        events = 0
        while True:
            for raw in pop(md):
                ev = unpack(raw)
                events += 1
                if ev.kind is _END:
                    signals = stage.stop(ev.ts_ns)
                    push(sig, raw)
                    rounds(signals, Marker(MARKER_ROUND, ev.seq, ev.recv_ts_ns, ev.ts_ns))
                    push(sig, Marker(MARKER_END, ev.seq, 0, ev.ts_ns).pack())
                    self._await_end()
                    self.report.counts["market_events"] = events
                    self.report.counts["t_end_ns"] = monotonic_ns()
                    return
                signals = on_market(ev)
                push(sig, raw)
                if signals or ev.kind in barrier:
                    rounds(signals, Marker(MARKER_ROUND, ev.seq, ev.recv_ts_ns, ev.ts_ns))
            self.words[self.handled_word] = events

    def _metered_unpack(self) -> Callable[[bytes], MarketEvent]:
        rec = self.recorder
        assert rec is not None
        record = rec.record
        publish = self.publish
        unpack_from = MarketEvent.unpack_from
        monotonic_ns = time.monotonic_ns

        def unpack(raw: bytes) -> MarketEvent:
            now = monotonic_ns()
            ev = unpack_from(raw)
            record(1, now - ev.recv_ts_ns)
            publish(now)
            return ev

        return unpack

    def _rounds(self, signals: list[SignalEvent], marker: Marker) -> None:
        sig = self.rings["sig"]
        fb = self.rings["fb"]
        push = self.push
        pop = self.pop
        buf = self.sbuf
        stage = self.stage_obj
        record = self.spec.config.record
        counts = self.report.counts
        packed = marker.pack()
        unpack = OrderUpdate.unpack_from
        for n in range(_MAX_ROUNDS + 2):
            if n == _MAX_ROUNDS:  # a feedback loop: stop the strategies still answering
                signals = stage.break_loop(signals, n)
            counts["rounds"] = counts.get("rounds", 0) + 1
            if signals:
                counts["signals"] = counts.get("signals", 0) + len(signals)
                if record:
                    self.report.signals += signals
                for s in signals:
                    s.pack_into(buf)
                    push(sig, buf)
            push(sig, packed)
            if n == 0:  # later rounds of the event carry no origin: latency is the first's
                packed = Marker(marker.kind, marker.seq, 0, marker.now_ns).pack()
            updates: list[OrderUpdate] = []
            done = False
            while not done:
                for raw in pop(fb):
                    if raw[0] == MARKER_TAG:
                        done = True
                        break
                    updates.append(unpack(raw))
            if not updates:
                return
            counts["updates"] = counts.get("updates", 0) + len(updates)
            signals = stage.on_updates(updates)
            if not signals:
                return
        raise RuntimeError(f"market event {marker.seq} did not end after its loop was broken")

    def _await_end(self) -> None:
        fb = self.rings["fb"]
        while True:
            for raw in self.pop(fb):
                if raw[0] == MARKER_TAG and Marker.unpack(raw).kind == MARKER_END:
                    return


# -- 3. risk -------------------------------------------------------------------------------


class _RiskProcess(_StageProcess):
    def run(self) -> None:
        self.abortable = False
        self.attach("sig", "ord", "gu", "fb")
        self.risk: RiskStage = STAGE_BUILDERS[2](self.spec.config)
        self.obuf = bytearray(Order.SIZE)
        self.ubuf = bytearray(OrderUpdate.SIZE)
        self.killed = False
        self.running()
        try:
            self._loop()
        finally:
            if self.spec.config.record:
                self.report.decisions = list(self.risk.decisions)

    def push_fb(self, data: bytes | bytearray) -> None:
        """Push to the strategy stage; once it is known dead (KILL), drop: nobody reads."""
        fb = self.rings["fb"]
        if fb.try_push(data):
            return
        idle = self.wait.idle
        words = self.words
        attempt = 0
        while not fb.try_push(data):
            if attempt & 63 == 0:
                self.beat()
                self.check()
                if words[KILL]:
                    self.count("dropped_for_dead_strategy_stage")
                    return
            idle(attempt)
            attempt += 1

    def _loop(self) -> None:
        sig = self.rings["sig"]
        risk = self.risk
        signals: list[SignalEvent] = []
        unpack_signal = SignalEvent.unpack_from
        unpack_market: Callable[[bytes], MarketEvent]
        on_market: Callable[[MarketEvent], None]
        do_round: Callable[[list[SignalEvent], Marker], None]
        if self.recorder is None:
            unpack_market = MarketEvent.unpack_from
            on_market = risk.on_market
            do_round = self._round
        else:
            unpack_market, on_market, do_round = self._metered()
        words = self.words
        try:
            while True:
                batch = self.pop(sig, watch_kill=True)
                if words[KILL]:  # what a dead strategy stage left in the ring is not checked
                    raise _StrategyGone
                for raw in batch:
                    tag = raw[0]
                    if tag == TAG_SIGNAL:
                        signals.append(unpack_signal(raw))
                    elif tag == TAG_MARKET:
                        on_market(unpack_market(raw))
                    else:
                        m = Marker.unpack(raw)
                        if m.kind == MARKER_END:
                            self._end(m)
                            return
                        do_round(signals, m)
                        signals = []
        except _StrategyGone:
            self._kill()

    def _metered(
        self,
    ) -> tuple[
        Callable[[bytes], MarketEvent],
        Callable[[MarketEvent], None],
        Callable[[list[SignalEvent], Marker], None],
    ]:
        """The metered loop's steps: stamp an event's arrival, record it at its round."""
        rec = self.recorder
        assert rec is not None
        record = rec.record
        publish = self.publish
        monotonic_ns = time.monotonic_ns
        unpack_from = MarketEvent.unpack_from
        on_market = self.risk.on_market
        do_round = self._round
        seen = [0, -1]  # arrival time and seq of the last market event

        def unpack(raw: bytes) -> MarketEvent:
            seen[0] = monotonic_ns()
            ev = unpack_from(raw)
            seen[1] = ev.seq
            return ev

        def metered_round(signals: list[SignalEvent], m: Marker) -> None:
            if m.seq == seen[1]:  # the event's first round: time into risk
                record(2, seen[0] - m.origin_ns)
                seen[1] = -1
                publish(seen[0])
            do_round(signals, m)

        return unpack, on_market, metered_round

    def _round(self, signals: list[SignalEvent], m: Marker) -> None:
        orders, rejects = self.risk.check(signals)
        push = self.push_fb
        ubuf = self.ubuf
        for u in rejects:
            self.count("rejects_" + _reason_name(u.reason))
            u.pack_into(ubuf)
            push(ubuf)
        while orders:  # kill-switch cancels from the updates go at once
            for u in self._gateway_round(orders, m):
                u.pack_into(ubuf)
                push(ubuf)
            orders = self.risk.take_pending()
        push(m.pack())

    def _gateway_round(self, orders: list[Order], m: Marker) -> list[OrderUpdate]:
        """Send a round's orders to the gateway; wait for its updates; apply them."""
        ord_ring = self.rings["ord"]
        gu = self.rings["gu"]
        push = self.push
        obuf = self.obuf
        for o in orders:
            o.pack_into(obuf)
            push(ord_ring, obuf)
        push(ord_ring, m.pack())
        updates: list[OrderUpdate] = []
        unpack = OrderUpdate.unpack_from
        while True:
            for raw in self.pop(gu):
                if raw[0] == MARKER_TAG:
                    self.risk.on_updates(updates)
                    return updates
                updates.append(unpack(raw))

    def _end(self, m: Marker) -> None:
        """Pass END to the gateway, wait for its END, pass it back to the strategy stage."""
        self.push(self.rings["ord"], m.pack())
        gu = self.rings["gu"]
        while True:
            for raw in self.pop(gu):
                if raw[0] == MARKER_TAG and Marker.unpack(raw).kind == MARKER_END:
                    if not self.killed:
                        self.push_fb(m.pack())
                    return

    def _kill(self) -> None:
        """The strategy stage is gone: cancel every open order, then end the stream."""
        self.killed = True
        self.risk.kill("the strategy stage died")
        now = time.monotonic_ns()
        marker = Marker(MARKER_ROUND, 0, now, 0)
        orders = self.risk.take_pending()
        while orders:
            self.count("kill_cancels", len(orders))
            self._gateway_round(orders, marker)
            orders = self.risk.take_pending()
        self._end(Marker(MARKER_END, 0, now, 0))


class _StrategyGone(Exception):
    """The supervisor set KILL: the strategy stage is dead."""


# -- 4. gateway ----------------------------------------------------------------------------


class _GatewayProcess(_StageProcess):
    def run(self) -> None:
        self.abortable = False
        self.attach("ord", "gu")
        gw: GatewayStage = STAGE_BUILDERS[3](self.spec.config)
        self.running()
        try:
            self._loop(gw)
        finally:
            gw.close()
            if self.spec.config.record:
                self.report.orders = list(gw.orders)
                self.report.updates = list(gw.updates)

    def _loop(self, gw: GatewayStage) -> None:
        ord_ring = self.rings["ord"]
        gu = self.rings["gu"]
        push = self.push
        ubuf = bytearray(OrderUpdate.SIZE)
        unpack: Callable[[bytes], Order]
        poll: Callable[[Marker], list[OrderUpdate]]
        if self.recorder is None:
            unpack = Order.unpack_from
            gw_poll = gw.poll

            def plain_poll(m: Marker) -> list[OrderUpdate]:
                return gw_poll(m.now_ns)

            poll = plain_poll
        else:
            unpack, poll = self._metered(gw)
        send_one = gw.send_one
        orders = 0
        while True:
            for raw in self.pop(ord_ring):
                if raw[0] == TAG_ORDER:
                    orders += 1
                    out = send_one(unpack(raw))
                else:
                    m = Marker.unpack(raw)
                    if m.kind == MARKER_END:
                        push(gu, raw)
                        self.report.counts["orders"] = orders
                        return
                    out = poll(m)
                for u in out:
                    u.pack_into(ubuf)
                    push(gu, ubuf)
                if raw[0] == MARKER_TAG:
                    push(gu, raw)
            self.words[self.handled_word] = orders

    def _metered(
        self, gw: GatewayStage
    ) -> tuple[Callable[[bytes], Order], Callable[[Marker], list[OrderUpdate]]]:
        """The metered loop's steps: stamp a round's first order, record it at the marker."""
        rec = self.recorder
        assert rec is not None
        record = rec.record
        publish = self.publish
        monotonic_ns = time.monotonic_ns
        unpack_from = Order.unpack_from
        gw_poll = gw.poll
        first = [0]

        def unpack(raw: bytes) -> Order:
            if not first[0]:
                first[0] = monotonic_ns()
            return unpack_from(raw)

        def poll(m: Marker) -> list[OrderUpdate]:
            t = first[0]
            if t:
                first[0] = 0
                if m.seq and m.origin_ns:  # an event's first round (not start, kill, later)
                    record(3, t - m.origin_ns)
                    record(4, t - m.origin_ns)
                    publish(t)
            return gw_poll(m.now_ns)

        return unpack, poll


def _reason_name(code: int) -> str:
    try:
        return RiskReason(code).name
    except ValueError:
        return str(code)


_PROCESSES: Final[tuple[Callable[[ProcessSpec, int], _StageProcess], ...]] = (
    _MarketDataProcess,
    _StrategyProcess,
    _RiskProcess,
    _GatewayProcess,
)


def _pin(cpu: int) -> None:
    if cpu >= 0 and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError, ValueError):  # not allowed / no such CPU: unpinned
            os.sched_setaffinity(0, {cpu})


def run_stage(spec: ProcessSpec, stage: int) -> int:
    """Run stage ``stage`` (0-3) of ``spec``; return the exit status."""
    _pin(spec.cpus[stage])
    proc = _PROCESSES[stage](spec, stage)
    if hasattr(os, "sched_getaffinity"):
        proc.report.cpus = sorted(os.sched_getaffinity(0))
    words = proc.words
    words[ControlBlock.word(stage, 2)] = os.getpid()
    proc.beat()
    status = EXIT_DONE
    try:
        proc.run()  # type: ignore[attr-defined]
    except _Aborted as exc:
        proc.report.error = str(exc)
        status = EXIT_ABORTED
    except BaseException as exc:  # anything else ends the stage, loudly, with its cause
        proc.report.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}"
        status = EXIT_FAILED
    rep = proc.report
    if proc.recorder is not None:
        rep.latency = recorder_slots(proc.recorder)
    path = os.path.join(spec.report_dir, f"stage-{stage}.msgpack")
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(msgspec.msgpack.encode(rep))
    os.replace(tmp, path)
    words[ControlBlock.word(stage, 1)] = STATE_DONE if status == EXIT_DONE else STATE_FAILED
    proc.close()
    return status


def main(argv: list[str]) -> int:
    """``python -m whistle.trading.pipeline SPEC_FILE STAGE``: run one stage process."""
    spec_file, stage = argv
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor stops us
    with open(spec_file, "rb") as f:
        spec = msgspec.msgpack.decode(f.read(), type=ProcessSpec)
    return run_stage(spec, int(stage))
