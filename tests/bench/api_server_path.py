"""Server-side CPU of whistle's gRPC order path, without gRPC: what batching gives.

Thread CPU time (``time.thread_time``), best of 3, so other load on the machine moves
the figures little. Usage (repository root)::

    .venv/bin/python tests/bench/api_server_path.py

Prints, per command:

1. ``LocalBackend.execute`` (enqueue each, one tick) at batch sizes 1, 8, 64, 512, without
   and with a data directory (journal, fsync none): what one tick per batch saves;
2. the unary SubmitOrder handler (request -> command -> batcher -> result message), one
   call at a time vs 1000 concurrent calls (one batch), and with the batcher's task hop
   bypassed (what the hop costs);
3. the OrderEntry stream path per command in messages of 100 commands, by phase.

The gRPC part (what ``whistle bench api`` measures end to end) is not in these figures.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from whistle.api import convert
from whistle.api.auth import OPEN_IDENTITY
from whistle.api.backend import LocalBackend, Outcome
from whistle.api.marketdata import attach_backend
from whistle.api.server import ServerConfig, WhistleServer
from whistle.api.v1 import order_entry_pb2 as pb
from whistle.coord import Venue
from whistle.core.commands import CancelOrder, Command, NewOrder

N = 20_000


def best(fn: Any, rounds: int = 3) -> float:
    low = float("inf")
    for _ in range(rounds):
        low = min(low, fn())
    return low


def backend_batches() -> None:
    def run(batch: int, data_dir: Path | None) -> float:
        venue = Venue(data_dir=data_dir) if data_dir else Venue()
        sid = venue.add_instrument("AAPL").symbol_id
        backend = LocalBackend(venue, clock=lambda: 1)
        commands: list[Command] = [
            NewOrder(sid, i + 1, 7, 1 + i % 2, 1, 1, 1000 + (1 if i % 2 else -1) * (1 + i % 50), 1)
            for i in range(N // 2)
        ]
        commands += [CancelOrder(sid, i + 1, 7) for i in range(N // 2)]

        async def go() -> float:
            start = time.thread_time()
            for k in range(0, len(commands), batch):
                await backend.execute(commands[k : k + batch])
            return time.thread_time() - start

        spent = asyncio.run(go())
        asyncio.run(backend.close())
        return spent / N * 1e6

    for journaled in (False, True):
        for batch in (1, 8, 64, 512):
            with tempfile.TemporaryDirectory() as tmp:
                us = run(batch, Path(tmp) / "v" if journaled else None)
            print(f"execute  data_dir={journaled!s:5} batch={batch:3d}: {us:6.1f} us/command")


class _Context:
    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return ()

    async def abort(self, code: object, details: str) -> None:
        raise RuntimeError(details)


async def _server() -> tuple[WhistleServer, LocalBackend]:
    venue = Venue()
    venue.add_instrument("AAPL")
    backend = LocalBackend(venue)
    server = WhistleServer(backend, config=ServerConfig(port=0, tick_interval_s=0))
    backend.add_listener(server.order_updates.on_events)
    await attach_backend(server.hub, backend)
    return server, backend


def unary_handler() -> None:
    requests = [
        pb.SubmitOrderRequest(
            symbol="AAPL", side=1 + i % 2, qty_lots=1, price_ticks=10_000 + (50 if i % 2 else -50)
        )
        for i in range(1000)
    ]
    context: Any = _Context()

    async def sequential() -> float:
        server, _ = await _server()
        start = time.thread_time()
        for request in requests:
            (await server.submit_order(request, context)).SerializeToString()
        return (time.thread_time() - start) / len(requests) * 1e6

    async def concurrent() -> float:
        server, _ = await _server()
        start = time.thread_time()
        answers = await asyncio.gather(*(server.submit_order(r, context) for r in requests))
        for answer in answers:
            answer.SerializeToString()
        return (time.thread_time() - start) / len(requests) * 1e6

    async def no_hop() -> float:
        server, backend = await _server()

        class Inline:
            def submit(self, commands: list[Command]) -> Any:
                return backend.execute(commands)

        server.batcher = Inline()  # type: ignore[assignment]
        start = time.thread_time()
        for request in requests:
            (await server.submit_order(request, context)).SerializeToString()
        return (time.thread_time() - start) / len(requests) * 1e6

    for name, case in (
        ("one call at a time", sequential),
        ("1000 concurrent (one batch)", concurrent),
        ("no batcher task hop", no_hop),
    ):
        us = best(lambda case=case: asyncio.run(case()))
        print(f"unary handler, {name:28s}: {us:6.1f} us/call")


def stream_phases() -> None:
    async def go() -> dict[str, float]:
        server, backend = await _server()
        messages = []
        rid = 0
        for _ in range(N // 100):
            commands = []
            for _ in range(100):
                rid += 1
                side = 1 + rid % 2
                price = 10_000 + (50 if side == 2 else -50) + rid % 7
                commands.append(
                    pb.OrderCommand(
                        request_id=rid,
                        submit=pb.SubmitOrderRequest(
                            symbol="AAPL", side=side, qty_lots=1, price_ticks=price
                        ),
                    )
                )
            messages.append(pb.OrderEntryRequest(commands=commands).SerializeToString())
        spent = dict.fromkeys(("parse", "convert", "execute", "result", "serialize"), 0.0)
        for data in messages:
            t = time.thread_time()
            request = pb.OrderEntryRequest.FromString(data)
            spent["parse"] += time.thread_time() - t
            t = time.thread_time()
            commands_ = [convert.command_of(c, server._lookup, None) for c in request.commands]
            spent["convert"] += time.thread_time() - t
            t = time.thread_time()
            outcomes: list[Outcome] = await backend.execute(commands_)  # type: ignore[arg-type]
            spent["execute"] += time.thread_time() - t
            t = time.thread_time()
            replies = [
                {"request_id": c.request_id, "result": server._result(o, OPEN_IDENTITY)}
                for c, o in zip(request.commands, outcomes, strict=True)
            ]
            response = pb.OrderEntryResponse(replies=replies)
            spent["result"] += time.thread_time() - t
            t = time.thread_time()
            response.SerializeToString()
            spent["serialize"] += time.thread_time() - t
        return spent

    spent = asyncio.run(go())
    for phase, seconds in spent.items():
        print(f"stream {phase:9s}: {seconds / N * 1e6:6.2f} us/command")
    print(f"stream total    : {sum(spent.values()) / N * 1e6:6.2f} us/command")


if __name__ == "__main__":
    backend_batches()
    unary_handler()
    stream_phases()
