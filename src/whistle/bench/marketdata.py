"""``whistle bench marketdata``: the market-data hub's fan-out cost, without the network.

A venue runs a seeded command stream (the matching bench's mixes, one stream per symbol,
interleaved, a tick every ``batch`` commands) and its events are recorded per tick. Then
the recorded ticks are fed to a ``MarketDataHub`` with ``subscribers`` readers subscribed
to every symbol; after each ``on_events`` every reader takes its chunks (as the gRPC
handler does when it is woken) and serializes each chunk through the shared per-chunk
cache (``Chunk.encoded``): ``encode="proto"`` with the gRPC server's converter (a
``MarketDataBatch`` fragment per chunk, decimal strings included), ``"json"`` as the web
view does, ``"none"`` not at all.

Timed with the thread's CPU clock (``time.thread_time_ns``): wall time on a shared
machine is noise. ``delivered_per_cpu_sec`` is records handed to readers (summed over
readers) per CPU second of hub + readers; the venue's own cost is not in it.
"""

from __future__ import annotations

import os
import platform
import time
from typing import TYPE_CHECKING, Any

import msgspec

from whistle.api.marketdata import MarketDataHub
from whistle.bench.mixes import generate_mix
from whistle.coord import Venue
from whistle.core.instrument import Instrument

if TYPE_CHECKING:
    from collections.abc import Callable

    from whistle.api.marketdata import Update
    from whistle.core.events import Event

__all__ = ["ENCODINGS", "run_marketdata_bench"]

ENCODINGS = ("proto", "json", "none")


def _record(symbols: int, orders: int, batch: int, mix: str, seed: int) -> list[list[Event]]:
    per_symbol = max(1, -(-orders // symbols))
    replace = msgspec.structs.replace
    ticks: list[list[Event]] = []
    with Venue() as venue:
        lanes = []
        for i in range(symbols):
            inst = Instrument(symbol=f"SYM{i:04d}", symbol_id=10_000 + i, tick_size="0.01")
            venue.add_instrument(inst)
            generated = generate_mix(mix, per_symbol, seed + i)
            for c in generated.prefill:
                venue.enqueue(replace(c, symbol_id=inst.symbol_id))
            lanes.append([replace(c, symbol_id=inst.symbol_id) for c in generated.commands])
        ticks.append(venue.tick())
        interleaved = [lane[j] for j in range(per_symbol) for lane in lanes if j < len(lane)]
        pending = 0
        for cmd in interleaved[:orders]:
            venue.enqueue(cmd)
            pending += 1
            if pending == batch:
                ticks.append(venue.tick())
                pending = 0
        ticks.append(venue.tick())
    return ticks


def _encoder(
    encode: str, instruments: dict[int, Instrument]
) -> Callable[[tuple[Update, ...]], bytes] | None:
    if encode == "none":
        return None
    if encode == "json":
        json_encoder = msgspec.json.Encoder()

        def to_json(updates: tuple[Update, ...]) -> bytes:
            return json_encoder.encode(updates)

        return to_json
    from whistle.api import convert
    from whistle.api.v1 import market_data_pb2

    def to_proto(updates: tuple[Update, ...]) -> bytes:
        instrument = instruments.get(updates[0].symbol_id) if updates else None
        batch = market_data_pb2.MarketDataBatch(
            updates=convert.md_updates_to_proto(updates, instrument)
        )
        return batch.SerializeToString()

    return to_proto


def run_marketdata_bench(
    *,
    subscribers: int = 8,
    symbols: int = 8,
    orders: int = 100_000,
    batch: int = 100,
    depth: int = 10,
    mix: str = "plain",
    seed: int = 1,
    encode: str = "proto",
) -> dict[str, Any]:
    """Run the hub fan-out bench; return the figures as a JSON-ready dict."""
    if encode not in ENCODINGS:
        raise ValueError(f"encode must be one of {', '.join(ENCODINGS)}, was {encode!r}")
    if min(subscribers, symbols, orders, batch) <= 0 or depth < 0:
        raise ValueError(
            "subscribers, symbols, orders and batch must be positive and depth >= 0, were"
            f" {subscribers}, {symbols}, {orders}, {batch}, {depth}"
        )
    ticks = _record(symbols, orders, batch, mix, seed)
    events = sum(len(t) for t in ticks)
    hub = MarketDataHub(max_pending=1 << 30, drop_after=1 << 62)
    for sid in range(10_000, 10_000 + symbols):
        hub.add_symbol(sid)
    subs = [hub.subscribe(None, depth=depth) for _ in range(subscribers)]
    for sub in subs:
        sub.poll_chunks()  # the initial snapshots: readers connected before the flow
    instruments = {
        10_000 + i: Instrument(symbol=f"SYM{i:04d}", symbol_id=10_000 + i, tick_size="0.01")
        for i in range(symbols)
    }
    to_bytes = _encoder(encode, instruments)
    delivered = 0
    messages = 0
    nbytes = 0
    on_events = hub.on_events
    clock = time.thread_time_ns
    hub_ns = 0
    cpu0 = clock()
    for tick in ticks:
        t = clock()
        on_events(tick)
        hub_ns += clock() - t
        for sub in subs:
            chunks = sub.poll_chunks(1 << 30)
            if not chunks:
                continue
            messages += 1
            for chunk in chunks:
                delivered += len(chunk.updates)
                if to_bytes is not None:
                    nbytes += len(chunk.encoded(to_bytes))
    cpu_ns = clock() - cpu0
    stats = hub.stats()
    return {
        "bench": "marketdata",
        "subscribers": subscribers,
        "symbols": symbols,
        "orders": orders,
        "batch": batch,
        "depth": depth,
        "mix": mix,
        "seed": seed,
        "encode": encode,
        "ticks": len(ticks),
        "events": events,
        "updates_made": stats.updates,
        "chunks_made": stats.chunks,
        "delivered": delivered,
        "messages": messages,
        "delivered_bytes": nbytes,
        "cpu_seconds": round(cpu_ns / 1e9, 6),
        "delivered_per_cpu_sec": round(delivered / (cpu_ns / 1e9), 1),
        "hub_on_events_ns_per_event": round(hub_ns / max(1, events), 1),
        "ns_per_delivered_update": round(cpu_ns / max(1, delivered), 1),
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
    }
