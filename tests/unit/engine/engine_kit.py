"""Terse builders and a checking harness for the engine's unit tests.

``Harness.send`` runs one command through ``Whistle.process``, checks the event header
invariants of the contract (``seq`` contiguous from the previous event, ``enq_seq`` the
command's number or 0 for clock expiries that come first, ``ts_ns`` the tick time), calls
``validate_internal_state`` and returns the events. ``brief`` turns events into short
tuples so a test can compare a whole command's output in one readable assertion.
"""

from __future__ import annotations

from contextlib import contextmanager

import msgspec

from whistle.core import (
    BestBidOfferChanged,
    BookLevelChanged,
    CancelOrder,
    CancelReplace,
    EndSession,
    EngineFaulted,
    HaltTrading,
    Instrument,
    MassCancel,
    ModifyOrder,
    NewOrder,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderModified,
    OrderRejected,
    OrderReplaced,
    ResumeTrading,
    StopTriggered,
    TradeOccurred,
    TradingStatusChanged,
)
from whistle.engine import EngineSnapshot, Whistle

BUY, SELL = 1, 2
LIMIT, MARKET, STOP, STOP_LIMIT = 1, 2, 3, 4
GTC, IOC, FOK, GTD, DAY = 1, 2, 3, 4, 5
NONE, NEWEST, OLDEST, BOTH, DECREMENT = 0, 1, 2, 3, 4
USER, IOC_REM, SELF, EXPIRED, MASS = 1, 2, 3, 4, 5
ACTIVE, HALTED, FAULTED = 1, 2, 3

SYMBOL = "TEST"
T0 = 1_000


def instrument(**kw) -> Instrument:
    kw.setdefault("symbol", SYMBOL)
    kw.setdefault("max_qty_lots", 1_000_000)
    return Instrument(**kw)


SID = instrument().symbol_id


# ---------------------------------------------------------------------- commands


def limit(oid, side, price, qty, *, acct=1, tif=GTC, sid=SID, **kw) -> NewOrder:
    return NewOrder(sid, oid, acct, side, LIMIT, tif, price, qty, **kw)


def buy(oid, price, qty, **kw) -> NewOrder:
    return limit(oid, BUY, price, qty, **kw)


def sell(oid, price, qty, **kw) -> NewOrder:
    return limit(oid, SELL, price, qty, **kw)


def market(oid, side, qty, *, acct=1, tif=IOC, sid=SID, **kw) -> NewOrder:
    return NewOrder(sid, oid, acct, side, MARKET, tif, 0, qty, **kw)


def stop(oid, side, stop_px, qty, *, acct=1, tif=GTC, **kw) -> NewOrder:
    return NewOrder(SID, oid, acct, side, STOP, tif, 0, qty, stop_price_ticks=stop_px, **kw)


def stop_limit(oid, side, stop_px, price, qty, *, acct=1, tif=GTC, **kw) -> NewOrder:
    return NewOrder(
        SID, oid, acct, side, STOP_LIMIT, tif, price, qty, stop_price_ticks=stop_px, **kw
    )


def cancel(oid, acct=None) -> CancelOrder:
    return CancelOrder(SID, oid, acct)


def modify(oid, price=0, qty=0, acct=None) -> ModifyOrder:
    return ModifyOrder(SID, oid, price, qty, acct)


def replace(oid, new_oid, price, qty, acct=None) -> CancelReplace:
    return CancelReplace(SID, oid, new_oid, price, qty, acct)


def mass_cancel(acct=None) -> MassCancel:
    return MassCancel(SID, acct)


def halt() -> HaltTrading:
    return HaltTrading(SID)


def resume() -> ResumeTrading:
    return ResumeTrading(SID)


def end_session() -> EndSession:
    return EndSession(SID)


# ---------------------------------------------------------------------- events


def brief1(e) -> tuple:
    """Return the short tuple form of one event (header fields dropped)."""
    match e:
        case OrderAccepted():
            return ("acc", e.order_id)
        case OrderRejected():
            return ("rej", e.order_id, e.reason)
        case OrderFilled():
            liq = "M" if e.liquidity == 1 else "T"
            return (
                "fill",
                e.order_id,
                liq,
                e.price_ticks,
                e.qty_lots,
                e.leaves_qty_lots,
                e.trade_id,
            )
        case TradeOccurred():
            return (
                "trade",
                e.trade_id,
                e.price_ticks,
                e.qty_lots,
                e.aggressor_side,
                e.maker_order_id,
                e.taker_order_id,
            )
        case OrderCancelled():
            return ("cxl", e.order_id, e.cause, e.cancelled_qty_lots, e.leaves_qty_lots)
        case OrderExpired():
            return ("exp", e.order_id, e.cancelled_qty_lots)
        case OrderModified():
            return ("mod", e.order_id, e.price_ticks, e.qty_lots, e.priority_kept)
        case OrderReplaced():
            return ("repl", e.order_id, e.new_order_id, e.price_ticks, e.qty_lots)
        case StopTriggered():
            return ("trig", e.order_id, e.stop_price_ticks, e.last_price_ticks)
        case BookLevelChanged():
            return ("lvl", e.side, e.price_ticks, e.qty_lots, e.order_count)
        case BestBidOfferChanged():
            return ("bbo", e.bid_price_ticks, e.bid_qty_lots, e.ask_price_ticks, e.ask_qty_lots)
        case TradingStatusChanged():
            return ("status", e.state)
        case EngineFaulted():
            return ("fault",)
    raise AssertionError(f"unexpected event {e!r}")


def brief(events) -> list[tuple]:
    return [brief1(e) for e in events]


def trade(tid, price, qty, maker, taker, aggressor, maker_leaves, taker_leaves) -> list[tuple]:
    """The three events of one trade, in contract order (maker fill, taker fill, print)."""
    return [
        ("fill", maker, "M", price, qty, maker_leaves, tid),
        ("fill", taker, "T", price, qty, taker_leaves, tid),
        ("trade", tid, price, qty, aggressor, maker, taker),
    ]


# ---------------------------------------------------------------------- harness


class Harness:
    """One engine plus the router-side counters (``enq_seq``, clock)."""

    def __init__(self, inst: Instrument | None = None, now: int = T0) -> None:
        self.eng = Whistle(inst or instrument())
        self.enq = 0
        self.now = now
        self.seq = 0
        self.last_events: list = []

    def check_headers(self, events, enq: int | None) -> None:
        """Check seq/enq_seq/ts_ns; ``enq=None``: a tick, enq_seq only has to grow."""
        clock = True
        last_enq = 0
        for e in events:
            assert e.symbol_id == self.eng.symbol_id, e
            assert e.seq == self.seq + 1, f"seq gap before {e!r}"
            self.seq = e.seq
            assert e.ts_ns == self.now, e
            if e.enq_seq == 0:
                assert clock, f"clock event after command events: {e!r}"
            else:
                clock = False
                assert e.enq_seq == enq if enq is not None else e.enq_seq >= last_enq, e
                last_enq = e.enq_seq

    def send(self, cmd, now: int | None = None) -> list:
        """Process ``cmd`` (at ``now`` if given), check invariants, return its events."""
        if now is not None:
            self.now = now
        self.enq += 1
        events = self.eng.process(self.enq, cmd, self.now)
        self.last_events = events
        self.check_headers(events, self.enq)
        self.eng.validate_internal_state()
        return events

    def b(self, cmd, now: int | None = None) -> list[tuple]:
        """``send`` and return the brief form."""
        return brief(self.send(cmd, now))

    def setup(self, *cmds) -> None:
        """Send commands that must all be accepted (no rejects)."""
        for cmd in cmds:
            events = self.send(cmd)
            assert not any(isinstance(e, OrderRejected) for e in events), brief(events)

    def tick(self, now: int) -> list:
        self.now = now
        events = self.eng.tick(now)
        self.check_headers(events, None)
        self.eng.validate_internal_state()
        return events

    def bids(self) -> list[tuple[int, int, int]]:
        return [(lv.price_ticks, lv.qty_lots, lv.order_count) for lv in self.eng.depth(50).bids]

    def asks(self) -> list[tuple[int, int, int]]:
        return [(lv.price_ticks, lv.qty_lots, lv.order_count) for lv in self.eng.depth(50).asks]

    def l3(self) -> list[tuple[int, int, int, int]]:
        """Resting orders as (order_id, price, qty, hidden), bids best first then asks."""
        return [(o.order_id, o.price_ticks, o.qty_lots, o.hidden_lots) for o in self.eng.l3()]

    def ids(self) -> list[int]:
        return [o.order_id for o in self.eng.l3()]

    def book_state(self) -> EngineSnapshot:
        """The engine's full state minus the event/command counters a reject advances.

        ``state_hash()`` covers the event ``seq``, which a reject (itself an event) moves
        by one, so "unchanged book" is checked on the snapshot with ``seq``,
        ``last_enq_seq``, ``now_ns`` and the hash blanked; ``reject`` checks the hash on a
        copy whose ``seq`` is wound back.
        """
        snap = self.eng.snapshot()
        return msgspec.structs.replace(snap, seq=0, last_enq_seq=0, now_ns=0, state_hash="")

    def reject(self, cmd) -> int:
        """Send ``cmd``; assert exactly one OrderRejected and an unchanged book; return reason."""
        before = self.book_state()
        hash_before = self.eng.state_hash()
        l3 = self.l3()
        events = self.send(cmd)
        assert len(events) == 1, brief(events)
        assert isinstance(events[0], OrderRejected), brief(events)
        assert self.book_state() == before
        assert self.l3() == l3
        # The same engine with its event counter wound back one hashes as before
        # (restore itself refuses a snapshot whose rebuilt book does not match its hash).
        snap = self.eng.snapshot()
        wound_back = msgspec.structs.replace(snap, seq=snap.seq - 1, state_hash=hash_before)
        assert Whistle.restore(wound_back).state_hash() == hash_before
        return events[0].reason


@contextmanager
def failing_event(name: str, message: str = "boom", exc_type: type[Exception] = RuntimeError):
    """Make the book raise when it builds event ``name``: an engine bug, injected.

    The book builds events through the callables held by ``whistle.book.book.EV``, in
    pure Python and under mypyc alike, so replacing one there faults a command mid-way
    without touching the (possibly compiled) book object.
    """
    import whistle.book.book as book_module

    builders = book_module.EV
    original = getattr(builders, name)

    def boom(*args, **kwargs):
        raise exc_type(message)

    setattr(builders, name, boom)
    try:
        yield
    finally:
        setattr(builders, name, original)
