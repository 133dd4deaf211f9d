"""The web view over a real socket (aiohttp client on 127.0.0.1, ephemeral port): JSON
endpoints, the event stream (snapshot, deltas, status, requested snapshots), bad input,
stream limits, shutdown."""

from __future__ import annotations

import asyncio
import json
import socket

import aiohttp
import pytest

from whistle.api.backend import LocalBackend
from whistle.api.marketdata import MarketDataHub, attach_backend
from whistle.api.web import start_web
from whistle.coord import Venue
from whistle.core.commands import NewOrder

WAIT_S = 30


def order(sid, side, price, qty, account=1):
    return NewOrder(sid, 0, account, side, 1, 1, price, qty)


class Rig:
    def __init__(self, web_options=None, **hub_options):
        self.hub_options = hub_options
        self.web_options = web_options or {}

    async def __aenter__(self):
        self.venue = Venue()
        self.backend = LocalBackend(self.venue)
        self.aapl = self.venue.add_instrument("AAPL").symbol_id
        self.msft = self.venue.add_instrument("MSFT", tick_size="0.05").symbol_id
        await self.backend.execute([order(self.aapl, 1, 10000, 5), order(self.aapl, 2, 10100, 7)])
        self.hub = MarketDataHub(**self.hub_options)
        self.detach = await attach_backend(self.hub, self.backend)
        options = {"status_interval_s": 0.2, "max_streams": 3} | self.web_options
        self.web = await start_web(self.hub, self.backend, port=0, **options)
        self.base = f"http://127.0.0.1:{self.web.port}"
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WAIT_S))
        return self

    async def __aexit__(self, *exc):
        await self.http.close()
        await self.web.close()
        self.detach()
        await self.backend.close()


class Stream:
    """A minimal SSE reader: yields (event, [data lines])."""

    def __init__(self, response):
        self.response = response

    async def next(self):
        event, data = None, []
        while True:
            line = (await asyncio.wait_for(self.response.content.readline(), WAIT_S)).decode()
            if line == "":
                raise EOFError("stream ended")
            line = line.rstrip("\n")
            if line == "":
                if event is not None or data:
                    return event, data
                continue
            field, _, value = line.partition(": ")
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)

    async def next_md(self):
        while True:
            event, data = await self.next()
            if event == "md":
                return [u for line in data for u in json.loads(line)]


async def drain(stream: Stream) -> None:
    while True:
        await stream.next()


def run(coro):
    asyncio.run(coro)


def test_json_endpoints():
    async def main():
        async with Rig() as rig:
            async with rig.http.get(rig.base + "/api/symbols") as r:
                assert r.status == 200
                symbols = await r.json()
            ids = [s["symbol_id"] for s in symbols]
            assert ids == sorted([rig.aapl, rig.msft])  # in symbol_id order
            assert {s["symbol"] for s in symbols} == {"AAPL", "MSFT"}
            msft = next(s for s in symbols if s["symbol"] == "MSFT")
            assert msft["tick_size"] == "0.05"
            async with rig.http.get(rig.base + "/api/depth/AAPL?levels=5") as r:
                depth = await r.json()
            assert depth["bids"] == [["100.00", 10000, "5", 5, 1]]
            assert depth["asks"] == [["101.00", 10100, "7", 7, 1]]
            assert depth["state"] == "ACTIVE"
            # Prices at the instrument's decimals: MSFT's tick is 0.05 (2001 ticks: 100.05).
            await rig.backend.execute([order(rig.msft, 2, 2001, 4), order(rig.msft, 1, 1980, 1)])
            async with rig.http.get(rig.base + "/api/depth/MSFT") as r:
                depth = await r.json()
            assert depth["asks"] == [["100.05", 2001, "4", 4, 1]]
            assert depth["bids"] == [["99.00", 1980, "1", 1, 1]]
            # By id too.
            async with rig.http.get(f"{rig.base}/api/depth/{rig.aapl}") as r:
                assert (await r.json())["symbol"] == "AAPL"
            async with rig.http.get(rig.base + "/api/status") as r:
                status = await r.json()
            assert status["hosts"][0]["host_id"] == 0
            assert status["enq_seq"] == 4
            assert {s["symbol"] for s in status["symbols"]} == {"AAPL", "MSFT"}
            async with rig.http.get(rig.base + "/") as r:
                page = await r.text()
            assert "/static/app.js" in page
            for asset in ("app.js", "style.css"):
                async with rig.http.get(rig.base + "/static/" + asset) as r:
                    assert r.status == 200
                    assert len(await r.read()) > 500

    run(main())


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/depth/NOPE", 404),
        ("/api/depth/AAPL?levels=-1", 400),
        ("/api/depth/AAPL?levels=abc", 400),
        ("/api/depth/AAPL?levels=99999999999", 400),
        ("/api/stream?symbols=AAPL,NOPE", 404),
        ("/api/stream?depth=x", 400),
        ("/static/../web.py", 404),
        ("/static/%2e%2e/web.py", 404),
        ("/api/nothing", 404),
    ],
)
def test_bad_requests_are_refused_and_the_server_goes_on(path, status):
    async def main():
        async with Rig() as rig:
            async with rig.http.get(rig.base + path) as r:
                assert r.status in (status, 403) if "static" in path else r.status == status
                body = await r.text()
            assert "Traceback" not in body
            async with rig.http.get(rig.base + "/api/depth/AAPL") as r:
                assert r.status == 200
            assert rig.hub.stats().subscriptions == 0

    run(main())


def test_stream_snapshot_deltas_status_and_requested_snapshot():
    async def main():
        async with Rig() as rig, rig.http.get(rig.base + "/api/stream?symbols=AAPL&depth=2") as r:
            assert r.headers["Content-Type"].startswith("text/event-stream")
            s = Stream(r)
            event, data = await s.next()
            assert event == "hello"
            stream = json.loads(data[0])["stream"]
            ups = await s.next_md()
            assert [u["k"] for u in ups] == ["snapshot"]
            snap = ups[0]
            assert snap["sym"] == "AAPL"
            assert snap["bids"] == [["100.00", 10000, "5", 5, 1]]
            assert snap["seq"] == 0
            await rig.backend.execute([order(rig.aapl, 1, 10050, 3)])
            ups = await s.next_md()
            assert [u["seq"] for u in ups] == list(range(1, len(ups) + 1))
            level = next(u for u in ups if u["k"] == "level")
            assert (level["side"], level["price"], level["qty"]) == ("B", "100.50", "3")
            bbo = next(u for u in ups if u["k"] == "bbo")
            assert bbo["bid"] == ["100.50", "3"]
            # Status events arrive on their own while nothing trades.
            while (await s.next())[0] != "status":
                pass
            # Ask for a snapshot as a client that saw a gap would.
            async with rig.http.post(
                f"{rig.base}/api/snapshot?stream={stream}&symbol_id={rig.aapl}"
            ) as p:
                assert p.status == 200
            ups = await s.next_md()
            assert ups[0]["k"] == "snapshot"
            assert ups[0]["cause"] == 2  # REQUESTED
            assert [lv[0] for lv in ups[0]["bids"]] == ["100.50", "100.00"]
            async with rig.http.post(
                f"{rig.base}/api/snapshot?stream={stream}&symbol_id={rig.msft}"
            ) as p:
                assert p.status == 404  # not in this stream
            async with rig.http.post(f"{rig.base}/api/snapshot?stream=999&symbol_id=1") as p:
                assert p.status == 404
            assert rig.hub.stats().subscriptions == 1

    run(main())


def test_stream_limit_and_shutdown_end_streams():
    async def main():
        async with Rig() as rig:
            responses = []
            for _ in range(3):
                r = await rig.http.get(rig.base + "/api/stream")
                responses.append(r)
                assert (await Stream(r).next())[0] == "hello"
            async with rig.http.get(rig.base + "/api/stream") as r:
                assert r.status == 503
            assert rig.hub.stats().subscriptions == 3
            # A client that goes away frees its subscription.
            responses.pop().close()
            for _ in range(200):
                if rig.hub.stats().subscriptions == 2:
                    break
                await rig.backend.execute([order(rig.aapl, 1, 9000, 1)])  # a write notices it
                await asyncio.sleep(0.05)
            assert rig.hub.stats().subscriptions == 2
            await rig.web.close()
            for r in responses:
                with pytest.raises((EOFError, aiohttp.ClientError)):
                    await drain(Stream(r))
                r.close()
            assert rig.hub.stats().subscriptions == 0

    run(main())


def test_new_instrument_appears_on_an_open_stream():
    async def main():
        async with Rig() as rig, rig.http.get(rig.base + "/api/stream") as r:
            s = Stream(r)
            seen = {u["sym"] for u in await s.next_md()}
            while len(seen) < 2:
                seen |= {u["sym"] for u in await s.next_md()}
            assert seen == {"AAPL", "MSFT"}
            from whistle.core.instrument import Instrument

            inst = await rig.backend.add_instrument(Instrument(symbol="NVDA", tick_size="0.01"))
            rig.hub.add_symbol(inst.symbol_id)
            ups = await s.next_md()
            assert ups[0]["sym"] == "NVDA"
            assert ups[0]["k"] == "snapshot"

    run(main())


def test_a_client_that_never_reads_does_not_stop_the_venue():
    """A raw socket asks for the whole-book stream with a tiny receive window and never
    reads: the server's write blocks for good, the hub conflates that subscription and then
    queues nothing for it (memory bounded), the venue acks every batch, and a client that
    does read converges on the venue's book."""

    async def main():
        async with Rig(max_pending=50) as rig:
            # A deep book first: each snapshot the stuck client is owed is large, so the
            # socket buffers between it and the server fill after a few of them.
            await rig.backend.execute(
                [order(rig.aapl, 1, 1000 + i, 1) for i in range(600)]
                + [order(rig.aapl, 2, 30000 + i, 1) for i in range(600)]
            )
            raw, stuck = await stuck_stream(rig)
            try:
                # Flood until the stuck stream's handler has delivered nothing for 100
                # ticks in a row (blocked on its socket), at most 3000 ticks.
                quiet = 0
                last = -1
                for batch in range(3000):
                    commands = [
                        order(
                            rig.aapl,
                            1 + (i % 2),
                            (1000 if i % 2 == 0 else 30000) + (batch * 7 + i) % 600,
                            1,
                        )
                        for i in range(10)
                    ]
                    outcomes = await rig.backend.execute(commands)
                    assert all(o.enq_seq for o in outcomes)  # the venue never waited
                    assert stuck.pending <= 50
                    quiet = quiet + 1 if stuck.delivered == last else 0
                    last = stuck.delivered
                    if quiet >= 100:
                        break
                    await asyncio.sleep(0)
                assert quiet >= 100, "the stuck client's handler never blocked"
                assert stuck.conflations >= 1
                assert stuck.pending == 0  # owes snapshots, queues nothing
                assert stuck.dropped is None
                # A client that reads converges on the venue's book.
                async with rig.http.get(rig.base + "/api/stream?symbols=AAPL&depth=0") as r:
                    reader = Stream(r)
                    assert (await reader.next())[0] == "hello"
                    await rig.backend.execute([order(rig.aapl, 1, 1500, 3)])
                    want = truth_levels(rig.venue, rig.aapl)
                    view: dict = {}
                    while view != want:
                        for u in await reader.next_md():
                            if u["k"] == "snapshot":
                                view = {("B", lv[1]): lv[3] for lv in u["bids"]}
                                view |= {("S", lv[1]): lv[3] for lv in u["asks"]}
                            elif u["k"] == "level":
                                key = (u["side"], u["price_ticks"])
                                if u["qty_lots"] or u["orders"]:
                                    view[key] = u["qty_lots"]
                                else:
                                    view.pop(key, None)
            finally:
                raw.close()

    run(main())


async def stuck_stream(rig):
    """Open /api/stream on a raw socket with a 2 KiB receive window that nobody reads;
    return the socket and the server's subscription for it."""
    loop = asyncio.get_running_loop()
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    raw.setblocking(False)
    try:
        await loop.sock_connect(raw, ("127.0.0.1", rig.web.port))
        await loop.sock_sendall(raw, b"GET /api/stream?depth=0 HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in range(500):
            if rig.web._streams:
                break
            await asyncio.sleep(0.01)
        (sub,) = rig.web._streams.values()
    except BaseException:
        raw.close()
        raise
    return raw, sub


def truth_levels(venue, sid):
    snap = venue.engine_view(sid).depth(None)
    out = {("B", lv.price_ticks): lv.qty_lots for lv in snap.bids}
    out |= {("S", lv.price_ticks): lv.qty_lots for lv in snap.asks}
    return out


def test_a_dropped_client_is_told_so_and_the_stream_ends():
    """Past drop_after discarded updates without a read the hub drops the subscription; when
    the client reads again it gets ``event: dropped`` (the documented status), then EOF."""

    async def main():
        async with Rig(max_pending=5, drop_after=200) as rig:
            await rig.backend.execute([order(rig.aapl, 1, 1000 + i, 1) for i in range(600)])
            loop = asyncio.get_running_loop()
            raw, stuck = await stuck_stream(rig)
            try:
                for batch in range(3000):
                    await rig.backend.execute(
                        [order(rig.aapl, 1, 1000 + (batch * 5 + i) % 600, 1) for i in range(5)]
                    )
                    if stuck.dropped is not None:
                        break
                    await asyncio.sleep(0)
                assert stuck.dropped is not None, "never dropped"
                assert rig.hub.stats().dropped == 1
                # Read what the server sends until the response ends (the last chunk of
                # the chunked body; the connection itself may stay open for keep-alive).
                received = bytearray()
                while not received.endswith(b"\r\n0\r\n\r\n"):
                    data = await asyncio.wait_for(loop.sock_recv(raw, 65536), WAIT_S)
                    assert data, "the connection closed before the response ended"
                    received += data
                tail = bytes(received[-2000:])
                assert b"event: dropped\n" in tail
                assert b"too slow" in tail
                for _ in range(500):
                    if not rig.web._streams:
                        break
                    await asyncio.sleep(0.01)
                assert rig.hub.stats().subscriptions == 0
            finally:
                raw.close()

    run(main())


def test_connections_past_the_cap_get_503_and_are_closed():
    """Idle connections cannot pile up: past max_connections a new one is answered 503 and
    closed at once (its descriptor given back); once the others go, service is back."""

    async def main():
        async with Rig(web_options={"max_connections": 6, "max_streams": 2}) as rig:
            idle = []
            for _ in range(6):
                idle.append(await asyncio.open_connection("127.0.0.1", rig.web.port))
            for _ in range(200):
                if len(rig.web._runner.server.connections) == 6:
                    break
                await asyncio.sleep(0.01)
            reader, writer = await asyncio.open_connection("127.0.0.1", rig.web.port)
            answer = await asyncio.wait_for(reader.read(), WAIT_S)  # until the server closes
            writer.close()
            assert answer.startswith(b"HTTP/1.1 503 ")
            assert rig.web.refused_connections == 1
            for _, w in idle:
                w.close()
            for _ in range(500):
                if not rig.web._runner.server.connections:
                    break
                await asyncio.sleep(0.01)
            async with rig.http.get(rig.base + "/api/depth/AAPL") as r:
                assert r.status == 200

    run(main())
