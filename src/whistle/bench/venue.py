"""``whistle bench venue``: end to end, router to collected events, 0..N host processes.

Each symbol gets its own seeded command stream (the matching bench's mixes, one seed per
symbol); the streams are interleaved round-robin and sent through ``Venue.enqueue``, with
a tick every ``batch`` commands. Two measurements:

- **full speed** (no ``rate``): commands/s from the first enqueue to the last collected
  event;
- **constant offered rate** (``rate`` commands/s): command *i* is due at ``t0 + i / rate``;
  the loop sends every due command, ticks, and records for each of them the time from its
  *intended* send time to the end of the tick that returned its events. A stall shows up
  as latency of every command that should have been sent meanwhile (no coordinated
  omission).
"""

from __future__ import annotations

import os
import platform
import time
from typing import Any

import msgspec
from hdrh.histogram import HdrHistogram

from whistle.bench.mixes import generate_mix
from whistle.coord import Venue
from whistle.core.instrument import Instrument

__all__ = ["PeerSendMany", "peer_send_many", "run_venue_bench"]

_MAX_LATENCY_NS = 60 * 1_000_000_000


def _streams(
    symbols: int, orders: int, mix: str, seed: int
) -> tuple[list[Instrument], list[Any], list[Any]]:
    per_symbol = max(1, -(-orders // symbols))
    instruments = [
        Instrument(symbol=f"SYM{i:04d}", symbol_id=10_000 + i, tick_size="0.01")
        for i in range(symbols)
    ]
    prefill: list[Any] = []
    lanes: list[list[Any]] = []
    replace = msgspec.structs.replace
    for i, inst in enumerate(instruments):
        generated = generate_mix(mix, per_symbol, seed + i)
        sid = inst.symbol_id
        prefill.extend(replace(c, symbol_id=sid) for c in generated.prefill)
        lanes.append([replace(c, symbol_id=sid) for c in generated.commands])
    interleaved: list[Any] = []
    for j in range(per_symbol):
        interleaved.extend(lane[j] for lane in lanes if j < len(lane))
    return instruments, prefill, interleaved[:orders]


def _no_yield() -> None:
    """Stand-in for ``os.sched_yield`` where the OS has none."""


def _percentiles(hist: HdrHistogram) -> dict[str, int]:
    return {
        "p50": hist.get_value_at_percentile(50.0),
        "p99": hist.get_value_at_percentile(99.0),
        "p999": hist.get_value_at_percentile(99.9),
        "p9999": hist.get_value_at_percentile(99.99),
        "max": hist.get_max_value(),
    }


def run_venue_bench(
    *,
    symbols: int = 8,
    hosts: int = 0,
    orders: int = 200_000,
    rate: float | None = None,
    batch: int = 1_000,
    mix: str = "plain",
    seed: int = 1,
    placement: str = "hash",
    wait: str = "sleep",
    queue_depth: int = 1 << 16,
    host_heartbeat_s: float = 0.05,
    host_dead_after_s: float = 5.0,
) -> dict[str, Any]:
    """Run the venue end to end; return the figures as a JSON-ready dict."""
    if symbols <= 0 or orders <= 0 or batch <= 0:
        raise ValueError(
            f"symbols, orders and batch must be positive, were {symbols}, {orders}, {batch}"
        )
    if rate is not None and rate <= 0:
        raise ValueError(f"rate must be positive, was {rate}")
    instruments, prefill, commands = _streams(symbols, orders, mix, seed)
    events = 0
    refused = 0
    with Venue(
        hosts=hosts,
        placement=placement,
        wait=wait,
        queue_depth=queue_depth,
        host_heartbeat_s=host_heartbeat_s,
        host_dead_after_s=host_dead_after_s,
    ) as venue:
        for inst in instruments:
            venue.add_instrument(inst)
        for cmd in prefill:
            venue.enqueue(cmd)
        venue.tick()
        enqueue = venue.enqueue
        tick = venue.tick
        hist = HdrHistogram(1, _MAX_LATENCY_NS, 3)
        cpu0 = time.process_time()
        t0 = time.perf_counter_ns()
        if rate is None:
            pending = 0
            for cmd in commands:
                if not isinstance(enqueue(cmd), int):
                    refused += 1
                pending += 1
                if pending == batch:
                    events += len(tick())
                    pending = 0
            events += len(tick())
        else:
            interval_ns = 1e9 / rate
            yield_cpu = getattr(os, "sched_yield", _no_yield)
            i = 0
            n = len(commands)
            while i < n:
                now = time.perf_counter_ns()
                due = min(n, int((now - t0) / interval_ns) + 1, i + batch)
                if due <= i:
                    # Nothing due yet: wait for the next intended send time. Close to it,
                    # yield rather than spin: a host process pinned to this core must
                    # not wait for the generator's time slice to end.
                    gap = t0 + i * interval_ns - now
                    if gap > 50_000:
                        time.sleep(gap / 2e9)
                    else:
                        yield_cpu()
                    continue
                start = i
                while i < due:
                    if not isinstance(enqueue(commands[i]), int):
                        refused += 1
                    i += 1
                events += len(tick())
                done = time.perf_counter_ns()
                for k in range(start, due):
                    hist.record_value(
                        min(_MAX_LATENCY_NS, max(1, int(done - (t0 + k * interval_ns))))
                    )
        seconds = (time.perf_counter_ns() - t0) / 1e9
        cpu = time.process_time() - cpu0
        placed = {h.host_id: len(h.symbols) for h in venue.hosts}
    result: dict[str, Any] = {
        "bench": "venue",
        "symbols": symbols,
        "hosts": hosts,
        "placement": placement,
        "wait": wait,
        "mix": mix,
        "seed": seed,
        "batch": batch,
        "ops": len(commands),
        "refused": refused,
        "events": events,
        "seconds": round(seconds, 6),
        "ops_per_sec": round(len(commands) / seconds, 1),
        "parent_cpu_seconds": round(cpu, 6),
        "parent_cpu_us_per_command": round(cpu / len(commands) * 1e6, 3),
        "symbols_per_host": placed,
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
    }
    if rate is not None:
        result["rate"] = rate
        result["latency_ns"] = _percentiles(hist)
    return result


class PeerSendMany:
    """A ``../shared/peers`` adapter: the harness's commands through ``Venue.send_many``.

    Run it beside the harness's own whistle adapters, from the harness folder::

        python run_peers.py --n 300000 --repeats 3 --mixes ecore,plain \\
          --peers baseline,whistle,whistle-venue,whistle-send-many \\
          --engine whistle=whistle_peer:engine --engine whistle-venue=whistle_peer:venue \\
          --engine whistle-send-many=whistle.bench.venue:peer_send_many

    The commands are built as the engine adapter builds them (untimed: 'L' GTC limit, 'I'
    IOC limit, 'C' cancel, 'M' modify(price), account 1) and sent in batches of 1,000 (one
    list of the events of every command would measure the allocator, not the venue).
    """

    kind = "match"
    batch = 1_000

    def version(self) -> str:
        import importlib.metadata

        from whistle.book import book

        compiled = book.__file__ is not None and book.__file__.endswith(".so")
        mode = "mypyc" if compiled else "pure"
        return f"whistle {importlib.metadata.version('whistle')} ({mode}), Venue.send_many"

    def _build(self, sid: int, cmds: list[tuple[str, int, int, int, int]]) -> list[Any]:
        from whistle.core.commands import CancelOrder, ModifyOrder, NewOrder
        from whistle.core.enums import OrderType, Side, TimeInForce

        sides = (int(Side.BUY), int(Side.SELL))
        lim, gtc, ioc = int(OrderType.LIMIT), int(TimeInForce.GTC), int(TimeInForce.IOC)
        out: list[Any] = []
        for kind, oid, side, price, qty in cmds:
            if kind == "L":
                out.append(NewOrder(sid, oid, 1, sides[side], lim, gtc, price, qty))
            elif kind == "I":
                out.append(NewOrder(sid, oid, 1, sides[side], lim, ioc, price, qty))
            elif kind == "C":
                out.append(CancelOrder(sid, oid))
            else:
                out.append(ModifyOrder(sid, oid, price))
        return out

    def prepare(self, data: dict[str, Any], opts: dict[str, Any]) -> None:
        inst = Instrument(symbol="X", tick_size="1", lot_size="1", max_qty_lots=1 << 40)
        self.venue = venue = Venue()
        venue.add_instrument(inst)
        venue.send_many(self._build(inst.symbol_id, data["prefill"]))
        cmds = self._build(inst.symbol_id, data["commands"])
        self.batches = [cmds[i : i + self.batch] for i in range(0, len(cmds), self.batch)]
        self.trades0 = venue.status("X").trades

    def run(self) -> None:
        send_many = self.venue.send_many
        for batch in self.batches:
            send_many(batch)

    def result(self) -> dict[str, Any]:
        venue = self.venue
        status = venue.status("X")
        depth = venue.depth("X", None)
        return {
            "resting": status.resting_orders,
            "best_bid": status.best_bid_ticks or None,
            "best_ask": status.best_ask_ticks or None,
            "levels": len(depth.bids) + len(depth.asks),
            "bid_qty": sum(lv.qty_lots for lv in depth.bids),
            "ask_qty": sum(lv.qty_lots for lv in depth.asks),
            "fills": status.trades - self.trades0,
        }


def peer_send_many() -> PeerSendMany:
    """Return the ``../shared/peers`` adapter of ``Venue.send_many`` (``PeerSendMany``)."""
    return PeerSendMany()
