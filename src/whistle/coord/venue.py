"""``Venue``: an in-process, multi-symbol venue with a virtual clock.

This is the embedded default and the Python API a notebook or a test uses::

    venue = Venue()
    venue.add_instrument("AAPL", tick_size="0.01", lot_size="1")
    venue.submit("AAPL", "buy", "100", "187.25")          # decimal strings ...
    venue.submit("AAPL", Side.SELL, qty_lots=50, price_ticks=18725)  # ... or ints
    venue.advance(1_000_000)                               # 1 ms of simulated time
    venue.depth("AAPL", 5)

The venue converts decimal strings to ticks and lots at the edge, stamps every accepted
command with a global monotonic ``enq_seq`` and hands it to the symbol's ``Whistle``.
Input refused at the edge (unknown symbol, a price off the tick grid, an unknown side
name) is never sequenced: it comes back as an ``OrderRejected`` with ``seq == 0`` and
``enq_seq == 0`` and reaches no engine.

Two ways to drive it: ``send``/``submit``/... process at once at the venue's current time
and return the events; ``enqueue`` queues, and ``tick``/``advance`` process the queue of
every symbol (engines in ``symbol_id`` order) — the tick-bounded mode.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar, final

from whistle.core.commands import (
    CancelOrder,
    CancelReplace,
    EndSession,
    HaltTrading,
    MassCancel,
    ModifyOrder,
    NewOrder,
    ResumeTrading,
    command_type_error,
)
from whistle.core.enums import OrderType, Side, StpMode, TimeInForce
from whistle.core.errors import ConversionError, InstrumentError, PrecisionError
from whistle.core.events import OrderRejected
from whistle.core.fixed import parse_decimal
from whistle.core.instrument import Instrument
from whistle.core.limits import MAX_ORDER_ID
from whistle.core.reasons import RejectReason
from whistle.engine.whistle import Whistle

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from whistle.core.commands import Command
    from whistle.core.events import Event
    from whistle.engine.status import DepthSnapshot, EngineStatus, L3Order

__all__ = ["EdgeReject", "Venue"]

Number = str | int | Decimal


class EdgeReject(Exception):
    """Raised inside the venue when input is refused before sequencing."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


E = TypeVar("E", Side, OrderType, TimeInForce, StpMode)


def _enum(kind: type[E], value: E | str | int, reason: RejectReason) -> E:
    try:
        if isinstance(value, str):
            return kind[value.strip().upper()]
        return kind(value)
    except (KeyError, ValueError):
        names = ", ".join(m.name for m in kind)
        raise EdgeReject(reason, f"{kind.__name__} must be one of {names}, was {value!r}") from None


def _int_or_zero(value: object) -> int:
    # What a reject echoes from a malformed command: only well-typed, in-range ints.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ORDER_ID:
        return value
    return 0


@final
class Venue:
    """Many symbols, one sequencer, one virtual clock, all in this process."""

    def __init__(self, *, start_ns: int = 0) -> None:
        self.now_ns = start_ns
        self.enq_seq = 0
        self._engines: dict[int, Whistle] = {}
        self._by_symbol: dict[str, Whistle] = {}
        self._next_order_id: dict[int, int] = {}
        self._subscribers: list[tuple[Callable[[Event], None], frozenset[int] | None]] = []
        self.last_reject_detail: str | None = None

    # ------------------------------------------------------------------ instruments

    def add_instrument(
        self,
        symbol: str | Instrument,
        *,
        tick_size: str = "0.01",
        lot_size: str = "1",
        min_qty: Number | None = None,
        max_qty: Number | None = None,
        price_band_pct: Number | None = None,
        reference_price: Number | None = None,
        symbol_id: int = 0,
    ) -> Instrument:
        """Define a symbol and create its engine; return the ``Instrument``.

        ``min_qty``/``max_qty``/``reference_price`` are decimals on the instrument's grid;
        ``price_band_pct`` is the band half-width in percent (e.g. ``"10"``, ``"2.5"``).
        """
        if isinstance(symbol, Instrument):
            instrument = symbol
        else:
            probe = Instrument(symbol=symbol, tick_size=tick_size, lot_size=lot_size)
            band_bps = 0
            if price_band_pct is not None:
                pct = parse_decimal(price_band_pct, "price_band_pct")
                bps = pct * 100
                if bps != bps.to_integral_value():
                    raise InstrumentError(
                        f"price_band_pct must have at most 2 decimals, was {price_band_pct}"
                    )
                band_bps = int(bps)
            instrument = Instrument(
                symbol=symbol,
                symbol_id=symbol_id,
                tick_size=tick_size,
                lot_size=lot_size,
                min_qty_lots=probe.qty_to_lots(min_qty) if min_qty is not None else 1,
                max_qty_lots=probe.qty_to_lots(max_qty) if max_qty is not None else 1_000_000_000,
                price_band_bps=band_bps,
                reference_price_ticks=(
                    probe.price_to_ticks(reference_price) if reference_price is not None else 0
                ),
            )
        if instrument.symbol in self._by_symbol:
            raise InstrumentError(f"symbol {instrument.symbol!r} is already defined")
        if instrument.symbol_id in self._engines:
            other = self._engines[instrument.symbol_id].instrument.symbol
            raise InstrumentError(
                f"symbol_id {instrument.symbol_id} of {instrument.symbol!r} is already used"
                f" by {other!r}"
            )
        engine = Whistle(instrument)
        if self.now_ns:
            engine.tick(self.now_ns)
        self._engines[instrument.symbol_id] = engine
        self._by_symbol[instrument.symbol] = engine
        self._next_order_id[instrument.symbol_id] = 1
        return instrument

    @property
    def symbols(self) -> list[str]:
        """Return the defined symbols in ``symbol_id`` order."""
        return [self._engines[k].instrument.symbol for k in sorted(self._engines)]

    def instrument(self, symbol: str) -> Instrument:
        """Return the instrument of ``symbol`` (``KeyError`` if undefined)."""
        return self.engine(symbol).instrument

    def engine(self, symbol: str | int) -> Whistle:
        """Return the engine of a symbol name or id (``KeyError`` if undefined)."""
        engine = (
            self._by_symbol.get(symbol) if isinstance(symbol, str) else self._engines.get(symbol)
        )
        if engine is None:
            raise KeyError(f"unknown symbol {symbol!r}")
        return engine

    # ------------------------------------------------------------------ events

    def subscribe(
        self, callback: Callable[[Event], None], symbols: Iterable[str] | None = None
    ) -> None:
        """Call ``callback`` with every event (of ``symbols`` only, when given)."""
        ids = None if symbols is None else frozenset(self.engine(s).symbol_id for s in symbols)
        self._subscribers.append((callback, ids))

    def _publish(self, events: list[Event]) -> list[Event]:
        if self._subscribers and events:
            for callback, ids in self._subscribers:
                for event in events:
                    if ids is None or event.symbol_id in ids:
                        callback(event)
        return events

    # ------------------------------------------------------------------ sequencing

    def _admit(self, command: Command) -> Whistle | OrderRejected:
        # The edge checks every Python-built command: well typed, known symbol.
        problem = command_type_error(command)
        if problem is not None:
            self.last_reject_detail = problem
            return self._edge_reject(command, RejectReason.MALFORMED_COMMAND)
        engine = self._engines.get(command.symbol_id)
        if engine is None:
            self.last_reject_detail = f"unknown symbol id {command.symbol_id}"
            return self._edge_reject(command, RejectReason.UNKNOWN_SYMBOL)
        return engine

    def send(self, command: Command) -> list[Event]:
        """Sequence ``command`` and process it now; return the events of this step.

        Commands queued earlier with ``enqueue`` for the same symbol are processed first
        (in ``enq_seq`` order), and their events are returned too.
        """
        engine = self._admit(command)
        if isinstance(engine, OrderRejected):
            return self._publish([engine])
        self.enq_seq += 1
        return self._publish(engine.process(self.enq_seq, command, self.now_ns))

    def enqueue(self, command: Command) -> int | OrderRejected:
        """Sequence ``command`` for the next tick; return its ``enq_seq`` (or the reject)."""
        engine = self._admit(command)
        if isinstance(engine, OrderRejected):
            self._publish([engine])
            return engine
        self.enq_seq += 1
        engine.enqueue(self.enq_seq, command)
        return self.enq_seq

    def tick(self, now_ns: int | None = None) -> list[Event]:
        """Move the clock to ``now_ns`` (default: stay) and tick every engine."""
        if now_ns is not None:
            if now_ns < self.now_ns:
                raise ValueError(f"time must not go backwards: now is {self.now_ns}, was {now_ns}")
            self.now_ns = now_ns
        out: list[Event] = []
        now = self.now_ns
        for key in sorted(self._engines):
            out.extend(self._engines[key].tick(now))
        return self._publish(out)

    def advance(self, delta_ns: int) -> list[Event]:
        """Advance the clock by ``delta_ns`` and tick every engine."""
        if delta_ns < 0:
            raise ValueError(f"delta_ns must be >= 0, was {delta_ns}")
        return self.tick(self.now_ns + delta_ns)

    def _edge_reject(
        self,
        command: Command | None,
        reason: RejectReason,
        *,
        symbol_id: int = 0,
        order_id: int = 0,
        account: int = 0,
    ) -> OrderRejected:
        if command is not None:
            symbol_id = _int_or_zero(getattr(command, "symbol_id", 0))
            order_id = _int_or_zero(getattr(command, "order_id", 0))
            account = _int_or_zero(getattr(command, "account", 0))
        return OrderRejected(symbol_id, 0, 0, self.now_ns, order_id, account, int(reason))

    # ------------------------------------------------------------------ convenience API

    def _resolve(self, symbol: str | int) -> Whistle | None:
        if isinstance(symbol, str):
            return self._by_symbol.get(symbol)
        return self._engines.get(symbol)

    def _guard(
        self, symbol: str | int, order_id: int, account: int, build: Callable[[Whistle], Command]
    ) -> list[Event]:
        # Build a command at the edge; anything refused there becomes an unsequenced reject.
        engine = self._resolve(symbol)
        if engine is None:
            self.last_reject_detail = f"unknown symbol {symbol!r}"
            return self._publish(
                [
                    self._edge_reject(
                        None, RejectReason.UNKNOWN_SYMBOL, order_id=order_id, account=account
                    )
                ]
            )
        try:
            command = build(engine)
        except EdgeReject as exc:
            self.last_reject_detail = str(exc)
            reject = self._edge_reject(
                None, exc.reason, symbol_id=engine.symbol_id, order_id=order_id, account=account
            )
            return self._publish([reject])
        self.last_reject_detail = None
        return self.send(command)

    @staticmethod
    def _units(convert: Callable[[Number], int], value: Number, what: str) -> int:
        try:
            return convert(value)
        except PrecisionError as exc:
            reason = (
                RejectReason.INVALID_PRICE_PRECISION
                if "price" in what
                else RejectReason.INVALID_QTY_PRECISION
            )
            raise EdgeReject(reason, f"{what}: {exc}") from None
        except ConversionError as exc:
            raise EdgeReject(RejectReason.MALFORMED_COMMAND, f"{what}: {exc}") from None

    def next_order_id(self, symbol: str | int) -> int:
        """Return the next unused automatic order id of ``symbol``."""
        return self._next_order_id[self.engine(symbol).symbol_id]

    def _claim_id(self, symbol_id: int, order_id: int | None) -> int:
        nxt = self._next_order_id[symbol_id]
        if order_id is None:
            order_id = nxt
        if order_id >= nxt:
            self._next_order_id[symbol_id] = order_id + 1
        return order_id

    def submit(
        self,
        symbol: str | int,
        side: Side | str | int,
        qty: Number | None = None,
        price: Number | None = None,
        *,
        order_type: OrderType | str | int | None = None,
        tif: TimeInForce | str | int | None = None,
        order_id: int | None = None,
        account: int = 0,
        stop_price: Number | None = None,
        display_qty: Number | None = None,
        post_only: bool = False,
        stp: StpMode | str | int = StpMode.NONE,
        expire_ts_ns: int = 0,
        protection_price: Number | None = None,
        qty_lots: int | None = None,
        price_ticks: int | None = None,
        stop_price_ticks: int | None = None,
        display_qty_lots: int | None = None,
        protection_price_ticks: int | None = None,
    ) -> list[Event]:
        """Enter a new order; return its events.

        Decimal ``qty``/``price``/... or integer ``qty_lots``/``price_ticks``/...; with no
        ``order_type`` it is LIMIT when a price is given and MARKET otherwise; with no ``tif``
        it is GTC (IOC for market). ``order_id`` defaults to the symbol's next free id.
        """
        engine = self._resolve(symbol)
        oid = order_id if order_id is not None else 0
        if engine is not None:
            oid = self._claim_id(engine.symbol_id, order_id)

        def build(engine: Whistle) -> Command:
            inst = engine.instrument
            side_v = _enum(Side, side, RejectReason.INVALID_SIDE)
            has_price = price is not None or price_ticks is not None
            if order_type is None:
                type_v = OrderType.LIMIT if has_price else OrderType.MARKET
            else:
                type_v = _enum(OrderType, order_type, RejectReason.INVALID_ORDER_TYPE)
            if tif is None:
                tif_v = TimeInForce.IOC if type_v is OrderType.MARKET else TimeInForce.GTC
            else:
                tif_v = _enum(TimeInForce, tif, RejectReason.INVALID_TIF)
            stp_v = _enum(StpMode, stp, RejectReason.INVALID_STP_MODE)
            return NewOrder(
                inst.symbol_id,
                oid,
                account,
                int(side_v),
                int(type_v),
                int(tif_v),
                self._pick(inst.price_to_ticks, price, price_ticks, "price"),
                self._pick(inst.qty_to_lots, qty, qty_lots, "qty"),
                self._pick(inst.price_to_ticks, stop_price, stop_price_ticks, "stop_price"),
                self._pick(inst.qty_to_lots, display_qty, display_qty_lots, "display_qty"),
                post_only,
                int(stp_v),
                expire_ts_ns,
                self._pick(
                    inst.price_to_ticks,
                    protection_price,
                    protection_price_ticks,
                    "protection_price",
                ),
            )

        return self._guard(symbol, oid, account, build)

    def _pick(
        self, convert: Callable[[Number], int], value: Number | None, units: int | None, what: str
    ) -> int:
        if value is not None and units is not None:
            raise EdgeReject(
                RejectReason.MALFORMED_COMMAND, f"give {what} or its integer form, not both"
            )
        if units is not None:
            return units
        if value is None:
            return 0
        return self._units(convert, value, what)

    def cancel(
        self, symbol: str | int, order_id: int, *, account: int | None = None
    ) -> list[Event]:
        """Cancel a live order."""
        return self._guard(
            symbol, order_id, account or 0, lambda e: CancelOrder(e.symbol_id, order_id, account)
        )

    def modify(
        self,
        symbol: str | int,
        order_id: int,
        *,
        price: Number | None = None,
        qty: Number | None = None,
        price_ticks: int | None = None,
        qty_lots: int | None = None,
        account: int | None = None,
    ) -> list[Event]:
        """Change a resting order's price and/or remaining quantity (omitted: unchanged)."""

        def build(e: Whistle) -> Command:
            inst = e.instrument
            return ModifyOrder(
                e.symbol_id,
                order_id,
                self._pick(inst.price_to_ticks, price, price_ticks, "price"),
                self._pick(inst.qty_to_lots, qty, qty_lots, "qty"),
                account,
            )

        return self._guard(symbol, order_id, account or 0, build)

    def replace(
        self,
        symbol: str | int,
        order_id: int,
        new_order_id: int | None = None,
        *,
        price: Number | None = None,
        qty: Number | None = None,
        price_ticks: int | None = None,
        qty_lots: int | None = None,
        account: int | None = None,
    ) -> list[Event]:
        """Replace a resting order by a new one (new id defaults to the next free id)."""
        engine = self._resolve(symbol)
        new_id = new_order_id if new_order_id is not None else 0
        if engine is not None:
            new_id = self._claim_id(engine.symbol_id, new_order_id)

        def build(e: Whistle) -> Command:
            inst = e.instrument
            return CancelReplace(
                e.symbol_id,
                order_id,
                new_id,
                self._pick(inst.price_to_ticks, price, price_ticks, "price"),
                self._pick(inst.qty_to_lots, qty, qty_lots, "qty"),
                account,
            )

        return self._guard(symbol, order_id, account or 0, build)

    def mass_cancel(
        self, symbol: str | int | None = None, *, account: int | None = None
    ) -> list[Event]:
        """Cancel every live order of ``account`` (or all) on one symbol or on every symbol."""
        if symbol is not None:
            return self._guard(symbol, 0, account or 0, lambda e: MassCancel(e.symbol_id, account))
        out: list[Event] = []
        for key in sorted(self._engines):
            out.extend(self.send(MassCancel(key, account)))
        return out

    def halt(self, symbol: str | int) -> list[Event]:
        """Halt a symbol: new orders, modifies and replaces are rejected."""
        return self._guard(symbol, 0, 0, lambda e: HaltTrading(e.symbol_id))

    def resume(self, symbol: str | int) -> list[Event]:
        """Resume a halted symbol."""
        return self._guard(symbol, 0, 0, lambda e: ResumeTrading(e.symbol_id))

    def end_session(self, symbol: str | int | None = None) -> list[Event]:
        """End the trading session (every DAY order expires) on one symbol or all."""
        if symbol is not None:
            return self._guard(symbol, 0, 0, lambda e: EndSession(e.symbol_id))
        out: list[Event] = []
        for key in sorted(self._engines):
            out.extend(self.send(EndSession(key)))
        return out

    # ------------------------------------------------------------------ views

    def depth(self, symbol: str | int, levels: int = 10) -> DepthSnapshot:
        """Return the L2 depth of ``symbol``."""
        return self.engine(symbol).depth(levels)

    def status(self, symbol: str | int) -> EngineStatus:
        """Return the status of ``symbol``'s engine."""
        return self.engine(symbol).status()

    def l3(self, symbol: str | int) -> list[L3Order]:
        """Return ``symbol``'s resting orders in priority order."""
        return self.engine(symbol).l3()

    def state_hashes(self) -> dict[str, str]:
        """Return every symbol's state hash, by symbol name."""
        return {
            self._engines[k].instrument.symbol: self._engines[k].state_hash()
            for k in sorted(self._engines)
        }
