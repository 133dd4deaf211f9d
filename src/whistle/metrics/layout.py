"""The HdrHistogram bucket layout, as plain integer arithmetic on a counts array.

whistle records latencies into the *same* counts layout as the ``hdrhistogram`` package (the
Java/C HdrHistogram layout: ``bucket_count`` power-of-two buckets of ``sub_bucket_half_count``
linear sub-buckets each, values at ``significant_figures`` decimal digits of precision), but it
computes the index itself: ``HdrHistogram.record_value`` costs about 1.3 us a call in pure
Python (five method calls and a ``bin()``), while the inlined index below costs a
``bit_length`` and a few shifts. Because the layout is identical, a counts array can be turned
into a real :class:`hdrh.histogram.HdrHistogram` at any time (:meth:`HdrLayout.to_histogram`),
and the tests check index, value and percentile results against ``hdrh`` as the oracle.

Index of a value ``v`` (all ints; ``um`` unit magnitude, ``h`` sub-bucket half-count
magnitude, ``mask`` sub-bucket mask)::

    bucket = (v | mask).bit_length() - um - h - 1
    index  = ((bucket + 1) << h) + (v >> (bucket + um)) - (1 << h)
           = (bucket << h) + (v >> (bucket + um))
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from itertools import accumulate
from typing import TYPE_CHECKING, Final, final

from hdrh.histogram import HdrHistogram

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["PERCENTILES", "HdrLayout"]

PERCENTILES: Final[tuple[tuple[str, float], ...]] = (
    ("p50", 50.0),
    ("p90", 90.0),
    ("p99", 99.0),
    ("p999", 99.9),
    ("p9999", 99.99),
)
"""The percentile keys of every report, with the percentile each one is."""

_MAX_HIGHEST: Final = 1 << 62  # keeps every count index and value inside int64


def _bucket_count(highest: int, sub_bucket_count: int, unit_magnitude: int) -> int:
    # Same loop as hdrh.histogram.get_bucket_count (integer arithmetic only).
    smallest_untrackable = sub_bucket_count << unit_magnitude
    buckets = 1
    while smallest_untrackable <= highest:
        smallest_untrackable <<= 1
        buckets += 1
    return buckets


@final
@dataclass(frozen=True, slots=True)
class HdrLayout:
    """An HdrHistogram layout: which value lands in which slot of a counts array."""

    lowest_ns: int = 1
    highest_ns: int = 60 * 1_000_000_000
    significant_figures: int = 3
    unit_magnitude: int = field(init=False)
    half_count_magnitude: int = field(init=False)
    half_count: int = field(init=False)
    sub_bucket_mask: int = field(init=False)
    bucket_count: int = field(init=False)
    counts_len: int = field(init=False)

    def __post_init__(self) -> None:
        lowest, highest, figures = self.lowest_ns, self.highest_ns, self.significant_figures
        for label, value in (("lowest_ns", lowest), ("highest_ns", highest)):
            if type(value) is not int:
                raise TypeError(f"{label} must be an int, was {type(value).__name__}")
        if type(figures) is not int or not 1 <= figures <= 5:
            raise ValueError(f"significant_figures must be an int in 1..5, was {figures!r}")
        if lowest < 1:
            raise ValueError(f"lowest_ns must be >= 1, was {lowest}")
        if highest < 2 * lowest:
            raise ValueError(f"highest_ns must be >= 2 * lowest_ns ({2 * lowest}), was {highest}")
        if highest > _MAX_HIGHEST:
            raise ValueError(f"highest_ns must be <= 2**62, was {highest}")
        unit_magnitude = lowest.bit_length() - 1
        # ceil(log2(2 * 10**figures)); 2 * 10**f is never a power of two.
        magnitude = (2 * 10**figures - 1).bit_length()
        half_magnitude = magnitude - 1 if magnitude > 1 else 0
        sub_bucket_count = 1 << (half_magnitude + 1)
        bucket_count = _bucket_count(highest, sub_bucket_count, unit_magnitude)
        setter = object.__setattr__
        setter(self, "unit_magnitude", unit_magnitude)
        setter(self, "half_count_magnitude", half_magnitude)
        setter(self, "half_count", sub_bucket_count // 2)
        setter(self, "sub_bucket_mask", (sub_bucket_count - 1) << unit_magnitude)
        setter(self, "bucket_count", bucket_count)
        setter(self, "counts_len", (bucket_count + 1) * (sub_bucket_count // 2))

    def index_of(self, value: int) -> int:
        """The counts slot of ``value`` (0 <= value <= highest_ns; not range-checked)."""
        shift = self.unit_magnitude + self.half_count_magnitude + 1
        bucket = (value | self.sub_bucket_mask).bit_length() - shift
        # HDR's ((bucket + 1) << h) + sub_bucket - half_count, with half_count == 1 << h
        return (bucket << self.half_count_magnitude) + (value >> (bucket + self.unit_magnitude))

    def value_at(self, index: int) -> int:
        """The lowest value that lands in slot ``index``."""
        bucket = (index >> self.half_count_magnitude) - 1
        sub_bucket = (index & (self.half_count - 1)) + self.half_count
        if bucket < 0:
            sub_bucket -= self.half_count
            bucket = 0
        return sub_bucket << (bucket + self.unit_magnitude)

    def highest_equivalent(self, value: int) -> int:
        """The highest value that shares ``value``'s slot (what HDR reports as a percentile)."""
        shift = self.unit_magnitude + self.half_count_magnitude + 1
        bucket = (value | self.sub_bucket_mask).bit_length() - shift
        sub_bucket = value >> (bucket + self.unit_magnitude)
        lowest = sub_bucket << (bucket + self.unit_magnitude)
        if sub_bucket >= 2 * self.half_count:
            bucket += 1
        return lowest + (1 << (self.unit_magnitude + bucket)) - 1

    def percentiles(self, counts: Sequence[int]) -> dict[str, int]:
        """count, min, p50, p90, p99, p999, p9999 and max (ns) of a counts array, HDR semantics.

        A percentile is the highest value equivalent to the slot where the running count first
        reaches ``max(1, int(p * total / 100 + 0.5))`` (``HdrHistogram.get_value_at_percentile``);
        ``max`` is the highest equivalent of the top non-empty slot, ``min`` the lowest value of
        the bottom one. All zero when empty.
        """
        running = list(accumulate(counts))
        total = running[-1] if running else 0
        out = {"count": total, "min": 0}
        if total == 0:
            out.update(dict.fromkeys([key for key, _ in PERCENTILES], 0))
            out["max"] = 0
            return out
        value_at, highest_equivalent = self.value_at, self.highest_equivalent
        out["min"] = value_at(bisect_left(running, 1))
        for key, percentile in PERCENTILES:
            target = max(1, int(percentile * total / 100 + 0.5))
            out[key] = highest_equivalent(value_at(bisect_left(running, target)))
        out["max"] = highest_equivalent(value_at(bisect_left(running, total)))
        return out

    def to_histogram(self, counts: Sequence[int]) -> HdrHistogram:
        """A ``hdrh`` HdrHistogram holding these counts (to encode, log or merge with hdrh)."""
        if len(counts) != self.counts_len:
            raise ValueError(f"counts must have {self.counts_len} slots, had {len(counts)}")
        histogram = HdrHistogram(self.lowest_ns, self.highest_ns, self.significant_figures)
        target = histogram.counts
        low = high = -1
        total = 0
        for index, count in enumerate(counts):
            if count:
                target[index] = count
                total += count
                if low < 0:
                    low = index
                high = index
        histogram.set_internal_tacking_values(low, high, total)
        return histogram
