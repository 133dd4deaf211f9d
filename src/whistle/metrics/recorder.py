"""Per-stage latency recorders for hot loops, and the null recorder for the OFF path.

Zero cost when off: a stage chooses its loop once, at construction, from ``recorder or None``
(``NULL_RECORDER`` is falsy, so configuration may pass it and the stage still gets ``None``)::

    def build_stage(process, recorder: LatencyRecorder | None, stage: int):
        recorder = recorder or None
        if recorder is None:
            def step(event):
                process(event)
        else:
            record = recorder.record_from_intended    # bound once, a local in the loop
            clock = time.perf_counter_ns
            def step(event):
                process(event)
                record(stage, event.ts_ns, clock())
        return step

With metrics off the loop holds no metric code at all (no call, no branch); ``whistle bench
metrics`` measures both loops in the same run. Calling ``NULL_RECORDER.record`` instead costs
one Python call per event (also measured there): fine for setup code, not for a hot loop.

Cost when on: ``record`` is a closure (its constants are cell variables, which Python reads
faster than attributes of ``self``): one range check, one ``bit_length``, two array
increments; it never raises for any int value (negative or above ``highest_ns``: recorded at
the edge slot and counted as ``clamped``). A stage index outside the recorder is a bug in the
caller and raises IndexError. Values must be ints (ns); floats are not accepted.

Clock: use ``time.perf_counter_ns()`` (CLOCK_MONOTONIC on Linux, the same clock in every
process), so a timestamp taken in one process can be subtracted in another.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING, Any, Final, Literal, final

from whistle.metrics.layout import HdrLayout
from whistle.metrics.snapshot import (
    COUNTS_OFFSET,
    SLOT_CLAMPED,
    SLOT_COUNT,
    SLOT_ERRORS,
    SLOT_LAST_NS,
    Snapshot,
    StageSnapshot,
)

if TYPE_CHECKING:
    from collections.abc import Callable, MutableSequence, Sequence

    from hdrh.histogram import HdrHistogram

__all__ = ["MAX_STAGE_NAME", "NULL_RECORDER", "LatencyRecorder", "NullRecorder", "check_stages"]

MAX_STAGE_NAME: Final = 47
"""Longest stage name in UTF-8 bytes (the shared-memory header keeps 48 bytes per name)."""

Storage = Literal["list", "array"]


def check_stages(stages: Sequence[str]) -> tuple[str, ...]:
    """Validated stage names: at least one, unique, non-empty, <= 47 UTF-8 bytes, no NUL."""
    if isinstance(stages, str):
        raise TypeError(f"stages must be a sequence of names, not the string {stages!r}")
    names = tuple(stages)
    if not names:
        raise ValueError("stages must name at least one stage")
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"stage names must be str, saw {name!r}")
        raw = name.encode()
        if not raw or b"\0" in raw or len(raw) > MAX_STAGE_NAME:
            raise ValueError(
                f"stage name must be 1..{MAX_STAGE_NAME} UTF-8 bytes without NUL, was {name!r}"
            )
    if len(set(names)) != len(names):
        raise ValueError(f"stage names must be unique, were {list(names)}")
    return names


def _make_recorders(
    arrays: tuple[MutableSequence[int], ...], layout: HdrLayout
) -> tuple[Callable[[int, int], None], Callable[[int, int, int], None]]:
    # Cell variables, not attributes: the hot path reads no `self`. The HDR index
    # ((b + 1) << h) + sub - half reduces to (b << h) + sub because half == 1 << h; the
    # 8 header slots are added as a constant. unit == 0 (lowest_ns == 1, the default) gets
    # closures without the unit shift.
    top = layout.highest_ns
    mask = layout.sub_bucket_mask
    shift = layout.unit_magnitude + layout.half_count_magnitude + 1
    unit = layout.unit_magnitude
    h = layout.half_count_magnitude
    off = COUNTS_OFFSET

    if unit == 0:

        def record(stage: int, ns: int) -> None:
            c = arrays[stage]
            if ns > top or ns < 0:
                ns = top if ns > 0 else 0
                c[2] += 1  # SLOT_CLAMPED
            c[0] += 1  # SLOT_COUNT
            b = (ns | mask).bit_length() - shift
            c[(b << h) + (ns >> b) + off] += 1

        def record_from_intended(stage: int, intended_ns: int, now_ns: int) -> None:
            c = arrays[stage]
            c[3] = now_ns  # SLOT_LAST_NS
            ns = now_ns - intended_ns
            if ns > top or ns < 0:
                ns = top if ns > 0 else 0
                c[2] += 1
            c[0] += 1
            b = (ns | mask).bit_length() - shift
            c[(b << h) + (ns >> b) + off] += 1

        return record, record_from_intended

    def record_units(stage: int, ns: int) -> None:
        c = arrays[stage]
        if ns > top or ns < 0:
            ns = top if ns > 0 else 0
            c[2] += 1
        c[0] += 1
        b = (ns | mask).bit_length() - shift
        c[(b << h) + (ns >> (b + unit)) + off] += 1

    def record_units_from_intended(stage: int, intended_ns: int, now_ns: int) -> None:
        c = arrays[stage]
        c[3] = now_ns
        ns = now_ns - intended_ns
        if ns > top or ns < 0:
            ns = top if ns > 0 else 0
            c[2] += 1
        c[0] += 1
        b = (ns | mask).bit_length() - shift
        c[(b << h) + (ns >> (b + unit)) + off] += 1

    return record_units, record_units_from_intended


@final
class LatencyRecorder:
    """Per-stage HDR latency histograms in ns, cheap to record into from one thread.

    ``record(stage_index, ns)`` records one latency. ``record_from_intended(stage_index,
    intended_ns, now_ns)`` records ``now_ns - intended_ns`` and is the coordinated-omission-free
    form: pass the time the event was *meant* to be sent (``FixedRateSchedule.at(i)``), not the
    time it was actually sent, so a stall delays every queued event's measurement instead of
    hiding in one sample. ``count_error(stage_index)`` counts a failed event.

    ``storage="array"`` keeps each stage in an ``array('q')`` (what a MetricsBlock publisher
    copies with one memcpy); the default ``"list"`` is about a third cheaper per record and
    can still be merged, snapshotted and exported.

    Not thread-safe for concurrent writers: one recorder per recording thread or process,
    merged afterwards (:meth:`merge`, or pickled across processes).
    """

    __slots__ = (
        "_arrays",
        "_index",
        "layout",
        "record",
        "record_from_intended",
        "stages",
        "storage",
    )

    record: Callable[[int, int], None]
    record_from_intended: Callable[[int, int, int], None]

    def __init__(
        self,
        stages: Sequence[str],
        lowest_ns: int = 1,
        highest_ns: int = 60 * 1_000_000_000,
        significant_figures: int = 3,
        *,
        storage: Storage = "list",
    ) -> None:
        if storage not in ("list", "array"):
            raise ValueError(f"storage must be 'list' or 'array', was {storage!r}")
        self.stages = check_stages(stages)
        self.layout = HdrLayout(lowest_ns, highest_ns, significant_figures)
        self.storage: Storage = storage
        self._index = {name: i for i, name in enumerate(self.stages)}
        self._arrays = tuple(self._new_slots() for _ in self.stages)
        self.record, self.record_from_intended = _make_recorders(self._arrays, self.layout)

    @classmethod
    def like(cls, layout: HdrLayout, stages: Sequence[str], storage: Storage) -> LatencyRecorder:
        """A new empty recorder with this layout."""
        return cls(
            stages, layout.lowest_ns, layout.highest_ns, layout.significant_figures,
            storage=storage,
        )  # fmt: skip

    def _new_slots(self) -> MutableSequence[int]:
        size = COUNTS_OFFSET + self.layout.counts_len
        if self.storage == "array":
            return array("q", bytes(8 * size))
        return [0] * size

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"LatencyRecorder(stages={list(self.stages)}, layout={self.layout})"

    # -- pickling (the closures are rebuilt) -----------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        return {"stages": self.stages, "layout": self.layout, "storage": self.storage,
                "arrays": self._arrays}  # fmt: skip

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.stages = state["stages"]
        self.layout = state["layout"]
        self.storage = state["storage"]
        self._index = {name: i for i, name in enumerate(self.stages)}
        self._arrays = tuple(state["arrays"])
        self.record, self.record_from_intended = _make_recorders(self._arrays, self.layout)

    # -- off the hot path ------------------------------------------------------------------

    def stage_index(self, stage: int | str) -> int:
        """The index of a stage given by name or index (KeyError / IndexError if unknown)."""
        if isinstance(stage, str):
            try:
                return self._index[stage]
            except KeyError:
                raise KeyError(f"no stage {stage!r}; stages are {list(self.stages)}") from None
        if not 0 <= stage < len(self.stages):
            raise IndexError(f"stage index must be in 0..{len(self.stages) - 1}, was {stage}")
        return stage

    def count_error(self, stage: int) -> None:
        """Count one failed event at ``stage`` (its latency, if any, is recorded separately)."""
        self._arrays[stage][SLOT_ERRORS] += 1

    def slots(self, stage: int) -> MutableSequence[int]:
        """The live storage of one stage (8 header slots + counts), for publishers."""
        return self._arrays[stage]

    def count(self, stage: int | str) -> int:
        """Latencies recorded at ``stage``."""
        return self._arrays[self.stage_index(stage)][SLOT_COUNT]

    def percentiles(self, stage: int | str) -> dict[str, int]:
        """count, min, p50, p90, p99, p999, p9999, max in ns (HDR semantics)."""
        slots = self._arrays[self.stage_index(stage)]
        return self.layout.percentiles(slots[COUNTS_OFFSET:])

    def counters(self, stage: int | str) -> dict[str, int]:
        """count, errors, clamped, last_ns of one stage."""
        slots = self._arrays[self.stage_index(stage)]
        return {
            "count": slots[SLOT_COUNT],
            "errors": slots[SLOT_ERRORS],
            "clamped": slots[SLOT_CLAMPED],
            "last_ns": slots[SLOT_LAST_NS],
        }

    def histogram(self, stage: int | str) -> HdrHistogram:
        """The stage as an ``hdrh`` HdrHistogram (same layout; to encode or log it)."""
        slots = self._arrays[self.stage_index(stage)]
        return self.layout.to_histogram(slots[COUNTS_OFFSET:])

    def snapshot(self) -> Snapshot:
        """A copy of every stage (call it from the recording thread for an exact copy)."""
        return Snapshot(
            self.layout,
            tuple(
                StageSnapshot.from_slots(name, self.layout, slots)
                for name, slots in zip(self.stages, self._arrays, strict=True)
            ),
        )

    def as_dict(self) -> dict[str, dict[str, int]]:
        """``{stage: percentiles + errors + clamped}``, JSON-ready (ns)."""
        out: dict[str, dict[str, int]] = {}
        for name in self.stages:
            row = self.percentiles(name)
            counters = self.counters(name)
            row.update(errors=counters["errors"], clamped=counters["clamped"])
            out[name] = row
        return out

    def merge(self, other: LatencyRecorder | Snapshot) -> None:
        """Add ``other``'s data (another process's recorder, or a block snapshot) into this one.

        Stages are matched by name; ``other``'s stages must all exist here and its layout must
        be the same (ValueError otherwise, before anything is added). ``last_ns`` keeps the
        larger value.
        """
        if other.layout != self.layout:
            raise ValueError(f"cannot merge layout {other.layout} into {self.layout}")
        if isinstance(other, LatencyRecorder):
            sources = [(name, other._arrays[i]) for i, name in enumerate(other.stages)]
        else:
            sources = [
                (s.name, [s.count, s.errors, s.clamped, s.last_ns, 0, 0, 0, 0, *s.counts])
                for s in other.stages
            ]
        missing = [name for name, _ in sources if name not in self._index]
        if missing:
            raise ValueError(f"stages {missing} are not in this recorder ({list(self.stages)})")
        for name, source in sources:
            target = self._arrays[self._index[name]]
            target[SLOT_LAST_NS] = max(target[SLOT_LAST_NS], source[SLOT_LAST_NS])
            for slot in (SLOT_COUNT, SLOT_ERRORS, SLOT_CLAMPED):
                target[slot] += source[slot]
            for index in range(COUNTS_OFFSET, len(target)):
                count = source[index]
                if count:
                    target[index] += count

    @classmethod
    def merged(cls, recorders: Sequence[LatencyRecorder]) -> LatencyRecorder:
        """A new recorder holding the sum of ``recorders`` (same layout; stages unioned)."""
        if not recorders:
            raise ValueError("merged() needs at least one recorder")
        stages: list[str] = []
        for recorder in recorders:
            stages.extend(name for name in recorder.stages if name not in stages)
        out = cls.like(recorders[0].layout, stages, recorders[0].storage)
        for recorder in recorders:
            out.merge(recorder)
        return out

    def reset(self) -> None:
        """Zero every stage (between benchmark rounds; not while another thread records)."""
        for slots in self._arrays:
            slots[:] = self._new_slots()


@final
class NullRecorder:
    """The OFF recorder: every method does nothing, and it is falsy (``recorder or None``).

    Pass it where configuration wants "a recorder"; hot loops should still test
    ``recorder or None`` once at construction and build the loop without metric calls.
    """

    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NULL_RECORDER"

    def record(self, stage: int, ns: int) -> None:
        """Do nothing."""

    def record_from_intended(self, stage: int, intended_ns: int, now_ns: int) -> None:
        """Do nothing."""

    def count_error(self, stage: int) -> None:
        """Do nothing."""


NULL_RECORDER: Final = NullRecorder()
"""The shared OFF recorder (falsy)."""
