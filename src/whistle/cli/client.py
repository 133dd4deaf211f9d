"""``whistle client``: order entry, the book, a live depth ladder and orders of a server.

    whistle client submit AAPL buy 100 187.25          # LIMIT GTC; events printed
    whistle client cancel AAPL 17
    whistle client book AAPL --levels 5                # one depth table
    whistle client watch AAPL                          # live ladder (Ctrl-C to stop)
    whistle client watch AAPL --once                   # the first picture, then exit
    whistle client orders [AAPL] [--follow]            # resting orders; --follow: updates

The server is ``--target`` (``$WHISTLE_TARGET``, default 127.0.0.1:50051), the key
``--api-key`` (``$WHISTLE_API_KEY``); ``--tls`` / ``--ca FILE`` for TLS. Prices and
quantities are decimal strings on the instrument's grid; every command takes ``--json``
(one JSON object per line). A failed call is one line on stderr and exit status 1.
"""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import click
import msgspec

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from enum import IntEnum

    from whistle.api.client import Client
    from whistle.core.instrument import Instrument

__all__ = ["client"]

_PRICE_FIELDS: Final = frozenset(
    {"price_ticks", "stop_price_ticks", "bid_price_ticks", "ask_price_ticks", "last_price_ticks"}
)
_QTY_FIELDS: Final = frozenset(
    {
        "qty_lots",
        "leaves_qty_lots",
        "cancelled_qty_lots",
        "display_qty_lots",
        "bid_qty_lots",
        "ask_qty_lots",
        "hidden_lots",
    }
)


class _Ctx:
    """What the group options give every subcommand."""

    def __init__(self, target: str, api_key: str | None, tls: bool, ca: str | None, timeout: float):
        self.target = target
        self.api_key = api_key
        self.tls = tls
        self.ca = ca
        self.timeout = timeout

    @contextlib.contextmanager
    def connect(self) -> Iterator[Client]:
        from whistle.api.client import Client, ClientError, Retry

        retry = Retry(reconnect_timeout_s=self.timeout)
        try:
            with Client(
                self.target,
                api_key=self.api_key,
                tls=self.tls,
                root_certificates=self.ca,
                timeout_s=self.timeout,
                retry=retry,
            ) as c:
                yield c
        except ClientError as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            pass


def grid_formatter(step: str) -> Callable[[int], str]:
    """Units -> a decimal string with the step's own places ("0.01": 18730 -> "187.30")."""
    value = Decimal(step)
    exponent = value.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    quantum = Decimal(1).scaleb(-places)
    return lambda units: f"{(units * value).quantize(quantum):f}"


def _enums() -> dict[str, type[IntEnum]]:
    from whistle.core.enums import (
        CancelCause,
        ClientOrderOutcome,
        Liquidity,
        OrderType,
        Side,
        TimeInForce,
        TradingState,
    )
    from whistle.core.reasons import RejectReason

    return {
        "side": Side,
        "aggressor_side": Side,
        "order_type": OrderType,
        "tif": TimeInForce,
        "liquidity": Liquidity,
        "cause": CancelCause,
        "state": TradingState,
        "outcome": ClientOrderOutcome,
        "reason": RejectReason,
    }


def _name(kind: type[IntEnum], value: object) -> object:
    member = kind._value2member_map_.get(value)
    return member.name if member is not None else value


def _fields(event: Any, inst: Instrument | None) -> dict[str, Any]:
    data: dict[str, Any] = {"event": type(event).__name__}
    price = grid_formatter(inst.tick_size) if inst is not None else None
    qty = grid_formatter(inst.lot_size) if inst is not None else None
    for name, value in msgspec.structs.asdict(event).items():
        data[name] = value
        if price is not None and name in _PRICE_FIELDS and value:
            data[name.removesuffix("_ticks")] = price(value)
        elif qty is not None and name in _QTY_FIELDS:
            data[name.removesuffix("_lots")] = qty(value)
    return data


def _line(data: dict[str, Any]) -> str:
    skip = {"event", "symbol_id", "ts_ns"}
    enums = _enums()
    parts = []
    for key, value in data.items():
        if key in skip or key.endswith(("_ticks", "_lots")):
            continue
        kind = enums.get(key)
        if kind is not None:
            value = _name(kind, value)
        parts.append(f"{key}={value}")
    return f"{data['event']:<20} " + " ".join(parts)


def _print_events(c: Client, events: list[Any], as_json: bool, detail: str | None = None) -> None:
    cache: dict[int, Instrument | None] = {}
    for event in events:
        sid = event.symbol_id
        if sid not in cache:
            cache[sid] = c.instrument(sid) if c.is_registered(sid) else None
        data = _fields(event, cache[sid])
        if detail and data["event"] == "OrderRejected":
            data["detail"] = detail
        click.echo(json.dumps(data) if as_json else _line(data))


@click.group("client")
@click.option(
    "--target",
    envvar="WHISTLE_TARGET",
    default="127.0.0.1:50051",
    show_default=True,
    help="The server's host:port ($WHISTLE_TARGET).",
)
@click.option("--api-key", envvar="WHISTLE_API_KEY", default=None, help="$WHISTLE_API_KEY.")
@click.option("--tls", is_flag=True, help="Connect with TLS (system roots, or --ca).")
@click.option(
    "--ca",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="PEM root certificate(s) to trust (implies --tls).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds per call (and for reconnecting).",
)
@click.pass_context
def client(
    ctx: click.Context, target: str, api_key: str | None, tls: bool, ca: str | None, timeout: float
) -> None:
    """Talk to a `whistle serve` process: orders, books, a live ladder."""
    ctx.obj = _Ctx(target, api_key, tls or ca is not None, ca, timeout)


@client.command("submit")
@click.argument("symbol")
@click.argument("side", type=click.Choice(["buy", "sell"], case_sensitive=False))
@click.argument("qty")
@click.argument("price", required=False)
@click.option(
    "--type",
    "order_type",
    type=click.Choice(["limit", "market", "stop", "stop_limit"], case_sensitive=False),
    default=None,
    help="Default: limit with a price, market without.",
)
@click.option(
    "--tif",
    type=click.Choice(["gtc", "ioc", "fok", "gtd", "day"], case_sensitive=False),
    default=None,
    help="Default: gtc (ioc for market).",
)
@click.option("--stop-price", default=None, help="Stop trigger price (stop, stop_limit).")
@click.option("--display-qty", default=None, help="Iceberg: the displayed quantity.")
@click.option("--post-only", is_flag=True, help="Refuse the order if it would take.")
@click.option("--expire-ts-ns", type=int, default=0, help="GTD expiry (ns since the epoch).")
@click.option(
    "--client-order-id",
    type=click.IntRange(min=0),
    default=0,
    help="Idempotent entry: a repeat returns the original outcome.",
)
@click.option("--account", type=click.IntRange(min=0), default=None, help="Admin keys only.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event.")
@click.pass_obj
def submit(
    obj: _Ctx,
    symbol: str,
    side: str,
    qty: str,
    price: str | None,
    order_type: str | None,
    tif: str | None,
    stop_price: str | None,
    display_qty: str | None,
    post_only: bool,
    expire_ts_ns: int,
    client_order_id: int,
    account: int | None,
    as_json: bool,
) -> None:
    """Enter an order: SYMBOL SIDE QTY [PRICE] (decimals); print its events."""
    with obj.connect() as c:
        events = c.submit(
            symbol,
            side,
            qty,
            price,
            order_type=order_type,
            tif=tif,
            stop_price=stop_price,
            display_qty=display_qty,
            post_only=post_only,
            expire_ts_ns=expire_ts_ns,
            client_order_id=client_order_id,
            account=account,
        )
        _print_events(c, events, as_json, c.last_reject_detail)


@client.command("cancel")
@click.argument("symbol")
@click.argument("order_id", type=click.IntRange(min=1))
@click.option("--account", type=click.IntRange(min=0), default=None, help="Admin keys only.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event.")
@click.pass_obj
def cancel(obj: _Ctx, symbol: str, order_id: int, account: int | None, as_json: bool) -> None:
    """Cancel order ORDER_ID of SYMBOL; print the events."""
    with obj.connect() as c:
        events = c.cancel(symbol, order_id, account=account)
        _print_events(c, events, as_json, c.last_reject_detail)


def ladder_rows(
    bids: list[tuple[int, int, int]],
    asks: list[tuple[int, int, int]],
    price: Callable[[int], str],
    qty: Callable[[int], str],
) -> list[tuple[str, str, str, str, str]]:
    """Rows of a depth ladder, asks above bids, best levels in the middle:
    (bid orders, bid qty, price, ask qty, ask orders)."""
    rows = [("", "", price(p), qty(q), str(n)) for p, q, n in reversed(asks)]
    rows += [(str(n), qty(q), price(p), "", "") for p, q, n in bids]
    return rows


def _ladder_table(
    title: str,
    bids: list[tuple[int, int, int]],
    asks: list[tuple[int, int, int]],
    inst: Instrument,
    caption: str = "",
) -> Any:
    from rich.table import Table

    table = Table(title=title, caption=caption or None)
    for name, style in (
        ("bid orders", "green"),
        ("bid qty", "green"),
        ("price", "bold"),
        ("ask qty", "red"),
        ("ask orders", "red"),
    ):
        table.add_column(name, justify="right", style=style)
    price = grid_formatter(inst.tick_size)
    qty = grid_formatter(inst.lot_size)
    for row in ladder_rows(bids, asks, price, qty):
        table.add_row(*row)
    return table


@client.command("book")
@click.argument("symbol")
@click.option("--levels", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.pass_obj
def book(obj: _Ctx, symbol: str, levels: int, as_json: bool) -> None:
    """Print SYMBOL's depth (best LEVELS per side)."""
    from rich.console import Console

    with obj.connect() as c:
        inst = c.instrument(symbol)
        depth = c.depth(symbol, levels)
        if as_json:
            click.echo(json.dumps({"symbol": inst.symbol, **msgspec.to_builtins(depth)}))
            return
        bids = [(lv.price_ticks, lv.qty_lots, lv.order_count) for lv in depth.bids]
        asks = [(lv.price_ticks, lv.qty_lots, lv.order_count) for lv in depth.asks]
        Console().print(_ladder_table(f"{inst.symbol} (event seq {depth.seq})", bids, asks, inst))


@client.command("watch")
@click.argument("symbol")
@click.option("--levels", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--once", is_flag=True, help="Print the first picture and exit.")
@click.option(
    "--updates",
    type=click.IntRange(min=1),
    default=None,
    help="Exit after this many market-data updates (after the snapshot).",
)
@click.pass_obj
def watch(obj: _Ctx, symbol: str, levels: int, once: bool, updates: int | None) -> None:
    """A live depth ladder of SYMBOL (market-data stream; Ctrl-C to stop)."""
    from rich.console import Console
    from rich.live import Live

    console = Console()
    with obj.connect() as c:
        inst = c.instrument(symbol)
        sid = inst.symbol_id
        stream = c.market_data([symbol], depth=levels)
        seen = 0

        def render() -> Any:
            view = stream.view
            bids, asks = view.levels(sid)
            last = view.last_trade.get(sid, 0)
            state = {1: "ACTIVE", 2: "HALTED", 3: "FAULTED"}.get(view.state.get(sid, 1), "?")
            trade = grid_formatter(inst.tick_size)(last) if last else "-"
            caption = (
                f"{state}  last {trade}  md_seq {view.md_seq.get(sid, 0)}  updates {seen}"
                f"  gaps {stream.gaps}  reconnects {stream.reconnects}"
            )
            return _ladder_table(inst.symbol, bids[:levels], asks[:levels], inst, caption)

        try:
            batches = iter(stream)
            next(batches)  # the snapshot
            if once:
                console.print(render())
                return
            with Live(render(), console=console, auto_refresh=False) as live:
                for records in batches:
                    seen += len(records)
                    live.update(render(), refresh=True)
                    if updates is not None and seen >= updates:
                        break
        finally:
            stream.close()


@client.command("orders")
@click.argument("symbol", required=False)
@click.option("--account", type=click.IntRange(min=0), default=None, help="Admin keys only.")
@click.option("--follow", is_flag=True, help="Then print order updates as they happen.")
@click.option(
    "--updates",
    type=click.IntRange(min=1),
    default=None,
    help="With --follow: exit after this many events.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
def orders(
    obj: _Ctx,
    symbol: str | None,
    account: int | None,
    follow: bool,
    updates: int | None,
    as_json: bool,
) -> None:
    """The account's resting orders (of SYMBOL, or all); --follow streams its updates."""
    with obj.connect() as c:
        stream = c.order_updates(account) if follow else None
        try:
            if stream is not None:
                stream.wait_ready()  # nothing between the listing and the updates is missed
            for order in c.open_orders(symbol, account=account):
                inst = c.instrument(order.symbol_id)
                data = {
                    "event": "OpenOrder",
                    "symbol": inst.symbol,
                    **msgspec.structs.asdict(order),
                    "price": grid_formatter(inst.tick_size)(order.price_ticks),
                    "qty": grid_formatter(inst.lot_size)(order.qty_lots),
                }
                click.echo(json.dumps(data) if as_json else _line(data))
            if stream is None:
                return
            seen = 0
            for events in stream:
                _print_events(c, events, as_json)
                seen += len(events)
                if updates is not None and seen >= updates:
                    break
        finally:
            if stream is not None:
                stream.close()
