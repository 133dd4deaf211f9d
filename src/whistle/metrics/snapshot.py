"""Immutable copies of per-stage latency data: what readers, reports and exporters consume."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, final

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from whistle.metrics.layout import HdrLayout

__all__ = [
    "COUNTS_OFFSET",
    "SLOT_CLAMPED",
    "SLOT_COUNT",
    "SLOT_ERRORS",
    "SLOT_LAST_NS",
    "Snapshot",
    "StageSnapshot",
]

# Each stage's data is one int64 array: 8 header slots, then the HDR counts. The recorder, the
# shared-memory block body and the snapshots all use this one layout, so a publish is a copy.
SLOT_COUNT = 0  # latencies recorded (== sum of the counts; the block's readers check it)
SLOT_ERRORS = 1  # count_error() calls
SLOT_CLAMPED = 2  # values outside [0, highest_ns] recorded as 0 or highest_ns
SLOT_LAST_NS = 3  # now_ns of the last record_from_intended (0 if never)
# slots 4..7 are reserved (zero) so that the counts start on a 64-byte boundary
COUNTS_OFFSET = 8


@final
@dataclass(frozen=True, slots=True)
class StageSnapshot:
    """One stage at one instant: counters plus the HDR counts (``layout.counts_len`` ints)."""

    name: str
    layout: HdrLayout
    count: int
    errors: int
    clamped: int
    last_ns: int
    published_ns: int
    counts: tuple[int, ...]

    @classmethod
    def from_slots(
        cls, name: str, layout: HdrLayout, slots: Sequence[int], published_ns: int = 0
    ) -> StageSnapshot:
        """Build from one stage array (8 header slots + counts)."""
        return cls(
            name=name,
            layout=layout,
            count=slots[SLOT_COUNT],
            errors=slots[SLOT_ERRORS],
            clamped=slots[SLOT_CLAMPED],
            last_ns=slots[SLOT_LAST_NS],
            published_ns=published_ns,
            counts=tuple(slots[COUNTS_OFFSET:]),
        )

    @property
    def consistent(self) -> bool:
        """Whether the count field equals the sum of the counts (always, unless torn)."""
        return self.count == sum(self.counts)

    def percentiles(self) -> dict[str, int]:
        """count, min, p50, p90, p99, p999, p9999, max in ns (see HdrLayout.percentiles)."""
        return self.layout.percentiles(self.counts)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the percentiles (ns) plus errors, clamped, last_ns, published_ns."""
        out: dict[str, Any] = self.percentiles()
        out.update(
            errors=self.errors,
            clamped=self.clamped,
            last_ns=self.last_ns,
            published_ns=self.published_ns,
        )
        return out


@final
@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every stage of a recorder or a metrics block, each stage read consistently."""

    layout: HdrLayout
    stages: tuple[StageSnapshot, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """Stage names, in stage-index order."""
        return tuple(stage.name for stage in self.stages)

    def __iter__(self) -> Iterator[StageSnapshot]:
        return iter(self.stages)

    def __getitem__(self, stage: int | str) -> StageSnapshot:
        if isinstance(stage, str):
            for item in self.stages:
                if item.name == stage:
                    return item
            raise KeyError(f"no stage {stage!r}; stages are {list(self.names)}")
        return self.stages[stage]

    def percentiles(self, stage: int | str) -> dict[str, int]:
        """Percentiles (ns) of one stage, by index or name."""
        return self[stage].percentiles()

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """``{stage name: StageSnapshot.as_dict()}`` in stage order."""
        return {stage.name: stage.as_dict() for stage in self.stages}
