"""R1: hostile requests to the web view (aiohttp on the gRPC server's loop).

Every bad request is a clear 4xx (never a 500 with a traceback), too many event streams
is a bounded refusal (503), a client that never reads its event stream costs a bounded
queue, and the server keeps serving throughout.
"""

from __future__ import annotations

import http.client
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "api"))
from server_harness import ServerThread, Stubs, metadata, order_entry_pb2  # the api tests' harness

from whistle.api.server import ServerConfig
from whistle.api.web import WebView, start_web
from whistle.coord import Venue

if TYPE_CHECKING:
    from collections.abc import Iterator

pb = order_entry_pb2


class Web:
    def __init__(self, server: ServerThread, view: WebView) -> None:
        self.server = server
        self.view = view
        self.port = view.port

    def get(self, path: str, method: str = "GET") -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


@pytest.fixture
def web() -> Iterator[Web]:
    venue = Venue()
    venue.add_instrument("AAPL", tick_size="0.01")
    server = ServerThread(venue, config=ServerConfig(port=0, tick_interval_s=0, md_max_pending=64))
    assert server.server is not None
    hub, backend = server.server.hub, server.backend

    async def start() -> WebView:
        return await start_web(hub, backend, max_streams=8, status_interval_s=0.2)

    view = server.call(start())
    try:
        yield Web(server, view)
    finally:
        server.call(view.close())
        server.close()


def alive(web: Web) -> None:
    status, body = web.get("/api/depth/AAPL")
    assert status == 200
    assert b'"symbol":"AAPL"' in body


BAD = [
    ("/api/depth/NOPE", (404,)),
    ("/api/depth/AAPL?levels=-1", (400,)),
    ("/api/depth/AAPL?levels=abc", (400,)),
    ("/api/depth/AAPL?levels=1000001", (400,)),
    ("/api/depth/%00", (404,)),
    ("/api/depth/AAPL?levels=" + "9" * 60, (400,)),
    ("/api/stream?symbols=NOPE", (404,)),
    ("/api/stream?depth=1001", (400,)),
    ("/api/stream?symbols=" + ",".join(["NOPE"] * 500), (404,)),
    ("/api/depth/AAPL?" + "x=1&" * 5000, (400, 414, 431)),  # a huge query string
    ("/api/nothing", (404,)),
    ("/static/../../../../etc/passwd", (403, 404)),
]
BAD_500 = [
    pytest.param("/api/depth/AAPL?levels=%C2%B2", (400,), id="levels=²"),
    pytest.param("/api/depth/%C2%B2", (404,), id="symbol ²"),
    pytest.param("/api/stream?depth=%C2%B2", (400,), id="depth=²"),
    pytest.param("/api/depth/AAPL?levels=" + "9" * 5000, (400,), id="levels 5000 digits"),
    pytest.param("/api/depth/" + "1" * 5000, (404,), id="symbol 5000 digits"),
    pytest.param("/api/snapshot?stream=%C2%B2&symbol_id=1", (400,), id="snapshot stream=²"),
]


@pytest.mark.parametrize(("path", "codes"), BAD, ids=[p[:40] for p, _ in BAD])
def test_bad_requests_are_4xx_and_the_server_keeps_serving(
    web: Web, path: str, codes: tuple[int, ...]
) -> None:
    method = "POST" if path.startswith("/api/snapshot") else "GET"
    status, _ = web.get(path, method)
    assert status in codes
    alive(web)


@pytest.mark.parametrize(("path", "codes"), BAD_500)
def test_digits_python_cannot_read_are_4xx_too(web: Web, path: str, codes: tuple[int, ...]) -> None:
    method = "POST" if path.startswith("/api/snapshot") else "GET"
    status, _ = web.get(path, method)
    alive(web)
    assert status in codes


def open_stream(port: int, rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n")
    return sock


def status_line(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(256)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0]


def test_hundreds_of_event_streams_get_a_bounded_refusal(web: Web) -> None:
    socks = [open_stream(web.port) for _ in range(200)]
    try:
        lines = [status_line(s) for s in socks]
        ok = [line for line in lines if b" 200 " in line]
        refused = [line for line in lines if b" 503 " in line]
        assert len(ok) == 8, lines[:12]
        assert len(refused) == 192
        alive(web)
    finally:
        for s in socks:
            s.close()
    # closed streams are given back: a new one is taken (their handlers end on the next
    # write after the peer left, at most a status interval later)
    for _ in range(100):
        again = open_stream(web.port)
        try:
            if b" 200 " in status_line(again):
                break
        finally:
            again.close()
        web.server.call(_sleep(0.1))
    else:
        raise AssertionError("no event stream was accepted after the others closed")


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


def test_an_event_stream_that_never_reads_costs_a_bounded_queue(web: Web) -> None:
    sock = open_stream(web.port, rcvbuf=4096)
    stubs = Stubs(web.server.address)
    try:
        assert b" 200 " in status_line(sock)
        # thousands of book changes while the stream's reader sleeps
        for batch in range(20):
            commands = [
                pb.OrderCommand(
                    request_id=i,
                    submit=pb.SubmitOrderRequest(
                        symbol="AAPL", side=1 + i % 2, qty="1", price=str(100 + (i % 2) * 50 + i)
                    ),
                )
                for i in range(batch * 200, batch * 200 + 200)
            ]
            replies = list(
                stubs.orders.OrderEntry(
                    iter([pb.OrderEntryRequest(commands=commands)]), metadata=metadata("alice")
                )
            )
            assert all(r.result.enq_seq for r in replies[0].replies)
        subs = web.view._streams.values()
        assert subs
        for sub in subs:
            assert sub.pending <= 64 + 16  # conflated: at most max_pending (+ a snapshot)
            assert sub.stats().conflations >= 1  # the reader really stalled
        alive(web)
    finally:
        stubs.close()
        sock.close()


_LIMITED_SERVE = (
    "import os, resource, sys;"
    " resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256));"
    " os.execv(sys.executable, [sys.executable, '-m', 'whistle', 'serve', *sys.argv[1:]])"
)


_SERVE_ARGS = ("--port", "0", "--instrument", "AAPL", "--http", "0", "--tick-interval", "0")


def test_idle_web_connections_cannot_take_order_entry_down() -> None:
    import re
    import signal
    import subprocess

    import grpc

    from whistle.api.v1 import order_entry_pb2_grpc

    proc = subprocess.Popen(
        [sys.executable, "-c", _LIMITED_SERVE, *_SERVE_ARGS],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    socks: list[socket.socket] = []
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        grpc_port = re.search(r"listening on \S+?:(\d+)", line)
        web_port = re.search(r"web view on http://[^:/]+:(\d+)/", line)
        assert grpc_port is not None, line
        assert web_port is not None, line
        for _ in range(400):  # more than the process may hold
            try:
                socks.append(socket.create_connection(("127.0.0.1", int(web_port.group(1))), 1))
            except OSError:
                break  # the server stopped accepting: its descriptors are gone
        channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port.group(1)}")
        try:
            stub = order_entry_pb2_grpc.OrderEntryServiceStub(channel)
            result = stub.SubmitOrder(
                pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", price="1", account=1),
                timeout=5,
            ).result
            assert result.enq_seq
        finally:
            channel.close()
    finally:
        for s in socks:
            s.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=30)
