"""Prometheus export of per-stage latency, converted from HDR data at scrape time only.

Nothing on the hot path touches prometheus-client: the pipeline records into a
:class:`LatencyRecorder` (or publishes into a :class:`MetricsBlock`), and the
:class:`StageCollector` reads a snapshot of it when Prometheus scrapes, from the exporter's
own thread (or, for a block, from any other process). Families, each with a ``stage`` label:

- ``whistle_stage_latency_seconds`` histogram: buckets at microsecond bounds
  (:data:`DEFAULT_BUCKETS_US`, ints in us), ``_count`` = the HDR count; ``_sum`` is computed
  from the HDR slots (each count at its slot's median value), so it is exact to the layout's
  precision (0.1% with 3 significant figures), not to the ns. A bucket ``le=b`` counts the
  HDR slots whose lowest value is <= b: exact while slots are 1 ns wide (below 2,048 ns with 3
  figures), within the same 0.1% above.
- ``whistle_stage_latency_quantile_seconds`` gauge, ``quantile`` label 0.5 ... 0.9999 and 1
  (max): HDR percentiles, which histogram buckets cannot give at p99.99.
- ``whistle_stage_events_total``, ``whistle_stage_errors_total``,
  ``whistle_stage_clamped_total`` counters.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from itertools import accumulate, pairwise
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Final, cast, final
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from whistle.metrics.block import MetricsBlock
from whistle.metrics.layout import PERCENTILES
from whistle.metrics.recorder import LatencyRecorder

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from types import TracebackType

    from prometheus_client.metrics_core import Metric

    from whistle.metrics.layout import HdrLayout
    from whistle.metrics.snapshot import Snapshot, StageSnapshot

__all__ = ["DEFAULT_BUCKETS_US", "PrometheusExporter", "StageCollector", "start_prometheus"]

DEFAULT_BUCKETS_US: Final[tuple[int, ...]] = (
    1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750,
    1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
)  # fmt: skip
"""Histogram bucket upper bounds in microseconds (1 us to 10 s)."""

_QUANTILES: Final = (*((key, p / 100) for key, p in PERCENTILES), ("max", 1.0))

# prometheus-client's own label formatting (untyped there).
_go_float = cast("Callable[[float], str]", floatToGoString)

SnapshotSource = LatencyRecorder | MetricsBlock | Callable[[], "Snapshot"]


def _check_buckets(buckets_us: Sequence[int]) -> tuple[int, ...]:
    bounds = tuple(buckets_us)
    if not bounds:
        raise ValueError("buckets_us must hold at least one bound")
    for bound in bounds:
        if type(bound) is not int or bound <= 0:
            raise ValueError(f"bucket bounds are positive ints in microseconds, saw {bound!r}")
    if any(b <= a for a, b in pairwise(bounds)):
        raise ValueError(f"bucket bounds must increase strictly, were {list(bounds)}")
    return bounds


def _median_ns(layout: HdrLayout, index: int) -> int:
    low = layout.value_at(index)
    return (low + layout.highest_equivalent(low) + 1) // 2


@final
class StageCollector(Collector):
    """A prometheus-client collector reading a recorder, a block or a snapshot function."""

    def __init__(self, source: SnapshotSource, buckets_us: Sequence[int] = DEFAULT_BUCKETS_US):
        self._snapshot: Callable[[], Snapshot]
        if isinstance(source, (LatencyRecorder, MetricsBlock)):
            self._snapshot = source.snapshot
        elif callable(source):
            self._snapshot = source
        else:
            raise TypeError(f"source must be a recorder, a block or a callable, was {source!r}")
        self._bounds = _check_buckets(buckets_us)
        self._labels = tuple(_go_float(b / 1e6) for b in self._bounds)

    def describe(self) -> Iterable[Metric]:
        """Nothing: the registry must not scrape at registration time."""
        return []

    def _buckets(self, stage: StageSnapshot) -> tuple[list[tuple[str, float]], float, int]:
        layout = stage.layout
        running = list(accumulate(stage.counts))
        total = running[-1]
        buckets: list[tuple[str, float]] = []
        for bound, label in zip(self._bounds, self._labels, strict=True):
            bound_ns = bound * 1000
            if bound_ns >= layout.highest_ns:
                buckets.append((label, float(total)))
                continue
            # last slot whose lowest value is <= bound_ns
            index = layout.index_of(bound_ns)
            buckets.append((label, float(running[index])))
        buckets.append(("+Inf", float(total)))
        total_ns = 0
        for index, count in enumerate(stage.counts):
            if count:
                total_ns += count * _median_ns(layout, index)
        return buckets, total_ns / 1e9, total

    def collect(self) -> Iterable[Metric]:
        """Convert one snapshot of every stage (runs in the scrape thread)."""
        snapshot = self._snapshot()
        latency = HistogramMetricFamily(
            "whistle_stage_latency_seconds",
            "Per-stage latency from the event's (intended) timestamp, HDR-recorded.",
            labels=["stage"],
        )
        quantiles = GaugeMetricFamily(
            "whistle_stage_latency_quantile_seconds",
            "HDR percentiles of the stage latency (quantile=1 is the max).",
            labels=["stage", "quantile"],
        )
        events = CounterMetricFamily(
            "whistle_stage_events", "Latencies recorded per stage.", labels=["stage"]
        )
        errors = CounterMetricFamily(
            "whistle_stage_errors", "Failed events counted per stage.", labels=["stage"]
        )
        clamped = CounterMetricFamily(
            "whistle_stage_clamped",
            "Latencies outside the HDR range, recorded at its edge.",
            labels=["stage"],
        )
        for stage in snapshot:
            buckets, sum_s, total = self._buckets(stage)
            latency.add_metric([stage.name], buckets, sum_s)
            table = stage.layout.percentiles(stage.counts)
            for key, quantile in _QUANTILES:
                quantiles.add_metric([stage.name, _go_float(quantile)], table[key] / 1e9)
            events.add_metric([stage.name], float(total))
            errors.add_metric([stage.name], float(stage.errors))
            clamped.add_metric([stage.name], float(stage.clamped))
        return [latency, quantiles, events, errors, clamped]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Do not write a line to stderr per scrape."""


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


@final
class PrometheusExporter:
    """An HTTP endpoint serving the collector from a daemon thread; ``close()`` stops it."""

    def __init__(self, server: WSGIServer, thread: threading.Thread, registry: CollectorRegistry):
        self._server = server
        self._thread = thread
        self.registry = registry
        self.port: int = server.server_port
        self.host: str = str(server.server_address[0])

    @property
    def url(self) -> str:
        """The scrape URL."""
        return f"http://{self.host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving and free the port (idempotent)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> PrometheusExporter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def start_prometheus(
    port: int,
    source: SnapshotSource,
    *,
    addr: str = "127.0.0.1",
    buckets_us: Sequence[int] = DEFAULT_BUCKETS_US,
) -> PrometheusExporter:
    """Serve ``source`` (a LatencyRecorder, a MetricsBlock, or a Snapshot-returning callable).

    ``port=0`` picks a free port (``exporter.port``). The registry is private to the exporter
    (nothing is added to prometheus-client's global one). A recorder is read from the
    exporter thread while its owner records: a scrape may miss the record in flight, and
    ``_count`` is always taken from the same copy as the buckets.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StageCollector(source, buckets_us))
    server = make_server(
        addr, port, make_wsgi_app(registry), _ThreadingServer, handler_class=_QuietHandler
    )
    thread = threading.Thread(
        target=server.serve_forever, name=f"whistle-prometheus-{server.server_port}", daemon=True
    )
    thread.start()
    return PrometheusExporter(server, thread, registry)
