"""The live web view: a small page, JSON endpoints and a Server-Sent Events stream.

``start_web(hub, backend, host, port)`` runs an aiohttp server on the *current* event loop
(the gRPC server's, which owns the venue): every handler runs on the loop thread, reads
the market-data hub and calls the backend, never blocks. No build step: the page is the
plain HTML/JS/CSS in ``whistle/api/static/``.

Routes::

    GET  /                       the page (depth ladder, trade tape, status, host load)
    GET  /static/<file>          its script and style sheet
    GET  /api/symbols            [{symbol, symbol_id, tick_size, lot_size, state}]
    GET  /api/depth/<symbol>     ?levels=N (default 10, 0: all) -> the hub's ladder
    GET  /api/status             hosts (symbols, commands), symbols (host, state, orders)
    GET  /api/stream             ?symbols=A,B (default all) &depth=N: text/event-stream
    POST /api/snapshot           ?stream=<id>&symbol_id=<n>: request_snapshot on a stream

The stream sends ``event: hello`` (its id), then ``event: md`` messages whose ``data``
lines are each a JSON array of update objects (one line per hub chunk, encoded once and
shared by every client of the same view), ``event: status`` about once a second (host
load), and ``event: dropped`` before it ends if the hub dropped it (too slow). Prices and
quantities are decimal strings (the edge rule), with the integer forms beside them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, final

import msgspec
from aiohttp import web

from whistle.api.marketdata import (
    Bbo,
    Level,
    MarketDataHub,
    Snapshot,
    Status,
    Subscription,
    SubscriptionClosed,
    SubscriptionDropped,
    Trade,
    UnknownSymbol,
)
from whistle.core.enums import TradingState

if TYPE_CHECKING:
    from collections.abc import Callable

    from whistle.api.backend import Backend
    from whistle.api.marketdata import Chunk, Update
    from whistle.core.instrument import Instrument

__all__ = ["STATIC_DIR", "WebView", "start_web"]

STATIC_DIR = Path(__file__).resolve().parent / "static"

_SIDE = {1: "B", 2: "S"}


def _is_uint(text: str, max_digits: int) -> bool:
    # ASCII digits only and few of them: str.isdigit() also takes '²' (int() refuses it)
    # and int() refuses more than 4300 digits.
    return 0 < len(text) <= max_digits and text.isascii() and text.isdigit()


def _unavailable(text: str) -> web.HTTPServiceUnavailable:
    # A refused stream also gives its connection back (no keep-alive): a client that
    # opens streams in a loop cannot fill max_connections with refused ones.
    refusal = web.HTTPServiceUnavailable(text=text)
    refusal.force_close()
    return refusal


def _state_name(state: int) -> str:
    try:
        return TradingState(state).name
    except ValueError:
        return str(state)


def _fixed(step: str) -> Callable[[int], str]:
    # Units -> decimal text with the step's number of places ("0.01": 18700 -> "187.00"),
    # exact (Decimal), so a ladder's prices line up.
    unit = Decimal(step)
    exponent = unit.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    spec = f".{places}f"

    def text(units: int) -> str:
        return format(units * unit, spec)

    return text


_FORMATS: dict[tuple[str, str], tuple[Callable[[int], str], Callable[[int], str]]] = {}


def _formats(inst: Instrument) -> tuple[Callable[[int], str], Callable[[int], str]]:
    """Return (price text of ticks, quantity text of lots) at the instrument's decimals."""
    key = (inst.tick_size, inst.lot_size)
    pair = _FORMATS.get(key)
    if pair is None:
        pair = _FORMATS[key] = (_fixed(inst.tick_size), _fixed(inst.lot_size))
    return pair


class _Refuse(asyncio.Protocol):
    """A connection past ``max_connections``: 503, then closed."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
            b"Content-Length: 25\r\nConnection: close\r\n\r\ntoo many web connections\n"
        )
        transport.close()


@final
class WebView:
    """The web app over one hub and one backend (``start_web`` makes and starts one)."""

    def __init__(
        self,
        hub: MarketDataHub,
        backend: Backend,
        *,
        max_streams: int = 64,
        max_connections: int = 128,
        keepalive_s: float = 15.0,
        status_interval_s: float = 1.0,
        stream_depth: int = 10,
    ) -> None:
        """Build the app. At most ``max_streams`` event streams at once (more: 503).

        At most ``max_connections`` TCP connections at once: one more is answered 503 and
        closed at once, so idle or hostile web clients can never take the file descriptors
        the gRPC server shares with this process; an idle keep-alive connection is closed
        after ``keepalive_s``.
        """
        if max_streams < 1:
            raise ValueError(f"max_streams must be >= 1, was {max_streams}")
        if max_connections < max_streams:
            raise ValueError(
                f"max_connections must be >= max_streams ({max_streams}), was {max_connections}"
            )
        if keepalive_s <= 0:
            raise ValueError(f"keepalive_s must be > 0, was {keepalive_s}")
        self.max_connections = max_connections
        self.keepalive_s = keepalive_s
        self.refused_connections = 0
        """Connections answered 503 because ``max_connections`` were open."""
        self._listener: asyncio.Server | None = None
        if status_interval_s <= 0:
            raise ValueError(f"status_interval_s must be > 0, was {status_interval_s}")
        self.hub = hub
        self.backend = backend
        self.max_streams = max_streams
        self.status_interval_s = status_interval_s
        self.stream_depth = stream_depth
        self.port = 0
        """The bound TCP port once started."""
        self._streams: dict[int, Subscription] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._status: tuple[float, bytes] | None = None
        self._instruments: dict[int, Instrument] = {}
        self._encoder = msgspec.json.Encoder()
        self._encode = self._encode_chunk  # one object: the per-chunk cache's key
        self._closing = False
        app = web.Application()
        app.router.add_get("/", self._index)
        app.router.add_static("/static/", STATIC_DIR, follow_symlinks=False)
        app.router.add_get("/api/symbols", self._symbols)
        app.router.add_get("/api/depth/{symbol}", self._depth)
        app.router.add_get("/api/status", self._status_json)
        app.router.add_get("/api/stream", self._stream)
        app.router.add_post("/api/snapshot", self._snapshot)
        self.app = app

    # ------------------------------------------------------------------ life

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on ``host:port`` (0: an ephemeral port); return the bound port."""
        runner = web.AppRunner(
            self.app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=1.0,
            keepalive_timeout=self.keepalive_s,
        )
        await runner.setup()
        server = runner.server
        assert server is not None  # set by setup()
        limit = self.max_connections
        live: set[object] = set()
        # Counted here, in the factory, not from server.connections: asyncio accepts a
        # whole burst (up to the backlog) and calls the factory for each before any
        # connection_made runs, so server.connections lags by a burst (R1 finding 8: 128
        # handlers past the cap). A handler leaves the count when aiohttp's manager hears
        # its connection_lost. (A handler whose transport asyncio fails to build after the
        # factory ran never hears either and stays counted: one slot lost per such
        # failure, never a connection past the cap.)
        lost = server.connection_lost

        def connection_lost(handler: Any, exc: BaseException | None = None) -> None:
            live.discard(handler)
            lost(handler, exc)

        server.connection_lost = connection_lost  # type: ignore[method-assign]

        def protocol() -> asyncio.BaseProtocol:
            # aiohttp's Server is the protocol factory; past the cap, a protocol that
            # answers 503 and closes (the descriptor is given back at once).
            if len(live) >= limit:
                self.refused_connections += 1
                return _Refuse()
            handler = server()
            live.add(handler)
            return handler

        try:
            # backlog 16: asyncio accepts up to `backlog` sockets per wake-up before any
            # factory call, so a burst holds that many descriptors beyond the cap (with 128,
            # a flood hit EMFILE under a 256-descriptor limit and starved gRPC's accepts).
            self._listener = await asyncio.get_running_loop().create_server(
                protocol, host, port, backlog=16
            )
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        sockets = self._listener.sockets or ()
        self.port = int(sockets[0].getsockname()[1]) if sockets else port
        return self.port

    async def close(self) -> None:
        """End every stream, stop listening and close every connection (idempotent)."""
        self._closing = True
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        for sub in list(self._streams.values()):
            sub.close()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        if listener is not None:
            await listener.wait_closed()

    # ------------------------------------------------------------------ helpers

    def _instrument(self, symbol_id: int) -> Instrument | None:
        inst = self._instruments.get(symbol_id)
        if inst is None:
            inst = self.backend.instrument(symbol_id)
            if inst is not None:
                self._instruments[symbol_id] = inst
        return inst

    def _resolve(self, text: str) -> Instrument:
        inst = self.backend.instrument(text) if len(text) <= 200 else None
        if inst is None and _is_uint(text, 20):
            inst = self.backend.instrument(int(text))
        if inst is None:
            raise web.HTTPNotFound(text=f"unknown symbol {text!r}")
        self.hub.add_symbol(inst.symbol_id)
        return inst

    def _level_list(self, inst: Instrument | None, levels: Any) -> list[list[Any]]:
        if inst is None:
            return [[str(p), p, str(q), q, n] for p, q, n in levels]
        price, qty = _formats(inst)
        return [[price(p), p, qty(q), q, n] for p, q, n in levels]

    def _update_json(self, u: Update, inst: Instrument | None) -> dict[str, Any]:
        price: Callable[[int], str] = str
        qty: Callable[[int], str] = str
        sym = str(u.symbol_id)
        if inst is not None:
            price, qty = _formats(inst)
            sym = inst.symbol
        base: dict[str, Any] = {"sym": sym, "sid": u.symbol_id, "seq": u.md_seq, "ts": u.ts_ns}
        kind = type(u)
        if kind is Level:
            assert isinstance(u, Level)
            base.update(
                k="level",
                side=_SIDE.get(u.side, "?"),
                price=price(u.price_ticks),
                price_ticks=u.price_ticks,
                qty=qty(u.qty_lots),
                qty_lots=u.qty_lots,
                orders=u.order_count,
            )
        elif kind is Bbo:
            assert isinstance(u, Bbo)
            base.update(
                k="bbo",
                bid=[price(u.bid_price_ticks), qty(u.bid_qty_lots)] if u.bid_qty_lots else None,
                ask=[price(u.ask_price_ticks), qty(u.ask_qty_lots)] if u.ask_qty_lots else None,
            )
        elif kind is Trade:
            assert isinstance(u, Trade)
            base.update(
                k="trade",
                id=u.trade_id,
                price=price(u.price_ticks),
                price_ticks=u.price_ticks,
                qty=qty(u.qty_lots),
                qty_lots=u.qty_lots,
                side=_SIDE.get(u.aggressor_side, "?"),
            )
        elif kind is Status:
            assert isinstance(u, Status)
            base.update(k="status", state=_state_name(u.state))
        else:
            assert isinstance(u, Snapshot)
            base.update(
                k="snapshot",
                cause=u.cause,
                state=_state_name(u.state),
                bids=self._level_list(
                    inst, ((lv.price_ticks, lv.qty_lots, lv.order_count) for lv in u.bids)
                ),
                asks=self._level_list(
                    inst, ((lv.price_ticks, lv.qty_lots, lv.order_count) for lv in u.asks)
                ),
                bid=[price(u.bid_price_ticks), qty(u.bid_qty_lots)] if u.bid_qty_lots else None,
                ask=[price(u.ask_price_ticks), qty(u.ask_qty_lots)] if u.ask_qty_lots else None,
                last=price(u.last_trade_price_ticks) if u.last_trade_price_ticks else None,
            )
        return base

    def _encode_chunk(self, updates: tuple[Update, ...]) -> bytes:
        inst = self._instrument(updates[0].symbol_id) if updates else None
        return self._encoder.encode([self._update_json(u, inst) for u in updates])

    def _json(self, value: object, status: int = 200) -> web.Response:
        return web.Response(
            body=self._encoder.encode(value), status=status, content_type="application/json"
        )

    async def _status_bytes(self) -> bytes:
        # One status document per interval, shared by every client (a status call reads
        # every engine's status: not something to do per client per second).
        now = time.monotonic()
        cached = self._status
        if cached is not None and now - cached[0] < self.status_interval_s / 2:
            return cached[1]
        status = await self.backend.status()
        md = self.hub.stats()
        body = self._encoder.encode(
            {
                "now_ns": status.now_ns,
                "enq_seq": status.enq_seq,
                "journaled": status.journaled,
                "hosts": [
                    {"host_id": h.host_id, "symbols": h.symbols, "commands": h.commands}
                    for h in status.hosts
                ],
                "symbols": [
                    {
                        "symbol": s.status.symbol,
                        "symbol_id": s.status.symbol_id,
                        "host_id": s.host_id,
                        "lifecycle": s.lifecycle,
                        "state": _state_name(int(s.status.state)),
                        "resting_orders": s.status.resting_orders,
                        "trades": s.status.trades,
                    }
                    for s in status.symbols
                ],
                "md": {
                    "subscriptions": md.subscriptions,
                    "updates": md.updates,
                    "conflations": md.conflations,
                    "dropped": md.dropped,
                },
            }
        )
        self._status = (now, body)
        return body

    # ------------------------------------------------------------------ handlers

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / "index.html")

    async def _symbols(self, request: web.Request) -> web.Response:
        out = []
        for inst in self.backend.instruments():
            self.hub.add_symbol(inst.symbol_id)
            out.append(
                {
                    "symbol": inst.symbol,
                    "symbol_id": inst.symbol_id,
                    "tick_size": str(inst.tick_size),
                    "lot_size": str(inst.lot_size),
                    "state": _state_name(self.hub.state(inst.symbol_id)),
                }
            )
        return self._json(out)

    def _int_arg(self, request: web.Request, name: str, default: int, high: int) -> int:
        text = request.query.get(name)
        if text is None:
            return default
        if not _is_uint(text, 20) or int(text) > high:
            raise web.HTTPBadRequest(text=f"{name} must be an integer 0..{high}, was {text!r}")
        return int(text)

    async def _depth(self, request: web.Request) -> web.Response:
        inst = self._resolve(request.match_info["symbol"])
        levels = self._int_arg(request, "levels", 10, 1_000_000)
        sid = inst.symbol_id
        bids, asks = self.hub.levels(sid, levels)
        return self._json(
            {
                "symbol": inst.symbol,
                "symbol_id": sid,
                "state": _state_name(self.hub.state(sid)),
                "bids": self._level_list(inst, bids),
                "asks": self._level_list(inst, asks),
                "columns": ["price", "price_ticks", "qty", "qty_lots", "orders"],
            }
        )

    async def _status_json(self, request: web.Request) -> web.Response:
        return web.Response(body=await self._status_bytes(), content_type="application/json")

    async def _snapshot(self, request: web.Request) -> web.Response:
        stream = self._int_arg(request, "stream", 0, 1 << 62)
        sid = self._int_arg(request, "symbol_id", 0, 1 << 62)
        sub = self._streams.get(stream)
        if sub is None:
            raise web.HTTPNotFound(text=f"no stream {stream}")
        try:
            sub.request_snapshot(sid)
        except UnknownSymbol as exc:
            raise web.HTTPNotFound(text=str(exc)) from None
        except (SubscriptionClosed, SubscriptionDropped) as exc:
            raise web.HTTPGone(text=str(exc)) from None
        return self._json({"requested": sid})

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        if self._closing:
            raise _unavailable("shutting down")
        if len(self._streams) >= self.max_streams:
            raise _unavailable(f"at most {self.max_streams} event streams")
        names = request.query.get("symbols")
        ids = None
        if names:
            ids = [self._resolve(n).symbol_id for n in names.split(",") if n]
        depth = self._int_arg(request, "depth", self.stream_depth, 1000)
        try:
            sub = self.hub.subscribe(ids, depth=depth)
        except UnknownSymbol as exc:
            raise web.HTTPNotFound(text=str(exc)) from None
        stream_id = next(self._ids)
        self._streams[stream_id] = sub
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        try:
            await response.prepare(request)
            await response.write(b'retry: 1000\nevent: hello\ndata: {"stream": %d}\n\n' % stream_id)
            await response.write(b"event: status\ndata: " + await self._status_bytes() + b"\n\n")
            last_status = time.monotonic()
            interval = self.status_interval_s
            encode = self._encode
            while True:
                try:
                    chunks: list[Chunk] | None = await asyncio.wait_for(
                        sub.next_chunks(), timeout=interval
                    )
                except TimeoutError:
                    chunks = None
                if chunks:
                    parts = [b"event: md\n"]
                    for chunk in chunks:
                        parts += (b"data: ", chunk.encoded(encode), b"\n")
                    parts.append(b"\n")
                    await response.write(b"".join(parts))
                now = time.monotonic()
                if chunks is None or now - last_status >= interval:
                    last_status = now
                    body = await self._status_bytes()
                    await response.write(b"event: status\ndata: " + body + b"\n\n")
        except SubscriptionDropped as exc:
            with contextlib.suppress(ConnectionError):
                await response.write(
                    b"event: dropped\ndata: " + self._encoder.encode(str(exc)) + b"\n\n"
                )
        except (SubscriptionClosed, ConnectionError):
            pass
        finally:
            sub.close()
            self._streams.pop(stream_id, None)
        return response


async def start_web(
    hub: MarketDataHub,
    backend: Backend,
    host: str = "127.0.0.1",
    port: int = 0,
    **options: Any,
) -> WebView:
    """Start the web view on the running loop; ``WebView.port`` is the bound port."""
    view = WebView(hub, backend, **options)
    await view.start(host, port)
    return view
