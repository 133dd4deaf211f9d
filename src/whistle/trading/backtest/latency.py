"""Latency models: constant, or interpolated from a recorded latency file.

Six latencies, all in ns and never negative:

- ``feed_ns``: exchange event -> the strategy sees it (the strategy's clock is the event's
  exchange time plus this);
- ``entry_ns``: the strategy sends a new order -> it arrives at the exchange;
- ``modify_ns`` / ``cancel_ns``: the same for a modify / a cancel;
- ``ack_ns``: the exchange acts (accept, fill, cancel, reject) -> the strategy hears it;
- ``risk_ns``: the pre-trade risk check: a refusal reaches the strategy this long after
  the signal, an approved order leaves for the exchange this long after it (then its
  entry / modify / cancel latency). Default 1 us: with 0, a strategy that answers a
  refusal by sending the same order again would loop without time passing.

Recorded latency file (CSV, UTF-8)::

    # lines starting with '#' and blank lines are ignored
    ts_ns,feed_ns,entry_ns,modify_ns,cancel_ns,ack_ns
    34200000000000,1500,21000,22000,19000,18000
    34260000000000,1700,25000,26000,20000,19500

The header is required; its first column is ``ts_ns`` (the data's exchange clock: ITCH /
LOBSTER ns since midnight, Databento ns since the UNIX epoch); the other columns are any
non-empty subset of the six names, each at most once, in any order. Values are
non-negative integers; ``ts_ns`` strictly increases. A latency at time ``t`` is the linear
interpolation (integer, rounded down) between the rows around ``t``, the first row's value
before it and the last row's after it. A latency the file has no column for comes from
the constant in ``LatencyConfig``. Anything else is a ``LatencyFileError`` naming the file
and the line.
"""

from __future__ import annotations

import bisect
import os
from typing import Final, final

import msgspec

from whistle.trading.backtest.errors import BacktestConfigError, LatencyFileError

__all__ = [
    "LATENCY_COLUMNS",
    "ConstantLatency",
    "InterpolatedLatency",
    "LatencyConfig",
    "LatencyModel",
    "latency_model",
    "read_latency_file",
]

LATENCY_COLUMNS: Final = ("feed_ns", "entry_ns", "modify_ns", "cancel_ns", "ack_ns", "risk_ns")
_MAX_NS: Final = 1 << 62


class LatencyConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Constant latencies in ns; ``file`` (a recorded latency CSV) overrides the columns it has."""

    feed_ns: int = 0
    entry_ns: int = 0
    modify_ns: int = 0
    cancel_ns: int = 0
    ack_ns: int = 0
    risk_ns: int = 1_000
    file: str | None = None

    def check(self) -> None:
        """Raise ``BacktestConfigError`` naming the first latency that is not a valid ns."""
        for name in LATENCY_COLUMNS:
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value < _MAX_NS:
                raise BacktestConfigError(
                    f"latency.{name} must be a non-negative int of ns, was {value!r}"
                )


@final
class _Series:
    """One interpolated column: sorted times and values, with a cursor for in-order reads."""

    __slots__ = ("i", "times", "values")

    def __init__(self, times: list[int], values: list[int]) -> None:
        self.times = times
        self.values = values
        self.i = 0

    def at(self, t: int) -> int:
        times = self.times
        n = len(times)
        i = self.i  # the segment [times[i], times[i + 1]) of the last read: usually still it
        if not (times[i] <= t and (i + 1 == n or t < times[i + 1])):
            if t < times[0]:
                return self.values[0]
            i = self.i = bisect.bisect_right(times, t) - 1
        if i + 1 == n:
            return self.values[i]
        t0 = times[i]
        v0 = self.values[i]
        return v0 + (self.values[i + 1] - v0) * (t - t0) // (times[i + 1] - t0)


class LatencyModel:
    """The latencies as functions of the time ``t`` (ns)."""

    constant: bool = False

    def feed(self, t: int) -> int:
        """Return the feed latency at ``t``."""
        raise NotImplementedError

    def entry(self, t: int) -> int:
        """Return the order entry latency at ``t``."""
        raise NotImplementedError

    def modify(self, t: int) -> int:
        """Return the modify latency at ``t``."""
        raise NotImplementedError

    def cancel(self, t: int) -> int:
        """Return the cancel latency at ``t``."""
        raise NotImplementedError

    def ack(self, t: int) -> int:
        """Return the ack latency at ``t``."""
        raise NotImplementedError

    def risk(self, t: int) -> int:
        """Return the risk check's latency at ``t``."""
        raise NotImplementedError


@final
class ConstantLatency(LatencyModel):
    """The same latencies at every time."""

    constant = True

    def __init__(
        self,
        feed_ns: int = 0,
        entry_ns: int = 0,
        modify_ns: int = 0,
        cancel_ns: int = 0,
        ack_ns: int = 0,
        risk_ns: int = 0,
    ) -> None:
        self.feed_ns = feed_ns
        self.entry_ns = entry_ns
        self.modify_ns = modify_ns
        self.cancel_ns = cancel_ns
        self.ack_ns = ack_ns
        self.risk_ns = risk_ns

    def feed(self, t: int) -> int:
        """Return the feed latency."""
        return self.feed_ns

    def entry(self, t: int) -> int:
        """Return the order entry latency."""
        return self.entry_ns

    def modify(self, t: int) -> int:
        """Return the modify latency."""
        return self.modify_ns

    def cancel(self, t: int) -> int:
        """Return the cancel latency."""
        return self.cancel_ns

    def ack(self, t: int) -> int:
        """Return the ack latency."""
        return self.ack_ns

    def risk(self, t: int) -> int:
        """Return the risk check's latency."""
        return self.risk_ns


@final
class InterpolatedLatency(LatencyModel):
    """Latencies interpolated from a recorded file (see the module docstring)."""

    def __init__(
        self, columns: dict[str, tuple[list[int], list[int]]], base: LatencyConfig
    ) -> None:
        self.columns = sorted(columns)
        series: dict[str, _Series | int] = {}
        for name in LATENCY_COLUMNS:
            got = columns.get(name)
            series[name] = _Series(*got) if got is not None else getattr(base, name)
        self._s = series

    def _get(self, name: str, t: int) -> int:
        s = self._s[name]
        return s if isinstance(s, int) else s.at(t)

    def feed(self, t: int) -> int:
        """Return the feed latency at ``t``."""
        return self._get("feed_ns", t)

    def entry(self, t: int) -> int:
        """Return the order entry latency at ``t``."""
        return self._get("entry_ns", t)

    def modify(self, t: int) -> int:
        """Return the modify latency at ``t``."""
        return self._get("modify_ns", t)

    def cancel(self, t: int) -> int:
        """Return the cancel latency at ``t``."""
        return self._get("cancel_ns", t)

    def ack(self, t: int) -> int:
        """Return the ack latency at ``t``."""
        return self._get("ack_ns", t)

    def risk(self, t: int) -> int:
        """Return the risk check's latency at ``t``."""
        return self._get("risk_ns", t)


def _int(text: str, path: str, line: int, column: str) -> int:
    text = text.strip()
    if not text or not (text.isdigit() and text.isascii()):
        raise LatencyFileError(path, line, f"{column} must be a non-negative integer, was {text!r}")
    value = int(text)
    if value >= _MAX_NS:
        raise LatencyFileError(path, line, f"{column} {value} is out of range (< 2**62)")
    return value


def read_latency_file(path: str | os.PathLike[str]) -> dict[str, tuple[list[int], list[int]]]:
    """Read a recorded latency CSV; return column -> (times, values). Validates everything."""
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LatencyFileError(name, 0, f"cannot read the latency file: {exc}") from None
    header: list[str] | None = None
    times: list[int] = []
    rows: list[list[int]] = []
    header_line = 0
    for no, raw in enumerate(lines, 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        cells = [c.strip() for c in text.split(",")]
        if header is None:
            if cells[0] != "ts_ns":
                raise LatencyFileError(
                    name, no, f"the header must start with ts_ns, was {cells[0]!r}"
                )
            rest = cells[1:]
            if not rest:
                raise LatencyFileError(
                    name,
                    no,
                    f"the header names no latency column (any of {', '.join(LATENCY_COLUMNS)})",
                )
            for column in rest:
                if column not in LATENCY_COLUMNS:
                    raise LatencyFileError(
                        name,
                        no,
                        f"unknown column {column!r}; expected ts_ns then any of"
                        f" {', '.join(LATENCY_COLUMNS)}",
                    )
                if rest.count(column) > 1:
                    raise LatencyFileError(name, no, f"column {column!r} appears twice")
            header = rest
            header_line = no
            continue
        if len(cells) != len(header) + 1:
            raise LatencyFileError(
                name,
                no,
                f"expected {len(header) + 1} values (ts_ns, {', '.join(header)}),"
                f" found {len(cells)}",
            )
        ts = _int(cells[0], name, no, "ts_ns")
        if times and ts <= times[-1]:
            raise LatencyFileError(name, no, f"ts_ns must increase: {ts} after {times[-1]}")
        times.append(ts)
        rows.append([_int(c, name, no, col) for c, col in zip(cells[1:], header, strict=True)])
    if header is None:
        raise LatencyFileError(name, 0, "the file has no header (ts_ns,feed_ns,entry_ns,...)")
    if not rows:
        raise LatencyFileError(name, header_line, "the file has a header but no rows")
    return {col: (times, [row[i] for row in rows]) for i, col in enumerate(header)}


def latency_model(config: LatencyConfig) -> LatencyModel:
    """Build the model ``config`` describes (a file makes it interpolated)."""
    config.check()
    if config.file is None:
        return ConstantLatency(
            config.feed_ns,
            config.entry_ns,
            config.modify_ns,
            config.cancel_ns,
            config.ack_ns,
            config.risk_ns,
        )
    return InterpolatedLatency(read_latency_file(config.file), config)
