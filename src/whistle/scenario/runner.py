"""Run a scenario: parse each line, drive a ``Venue``, render what comes out.

``run_scenario(lines)`` yields one output dict per event (and per query result, and per
scenario error). Commands are processed at once at the venue's current simulated time;
``advance`` moves the clock and ticks every symbol (GTD expiries). The output is a pure
function of the input lines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, final

from whistle.coord.venue.facade import Venue
from whistle.core.errors import WhistleError
from whistle.core.limits import MAX_TS_NS
from whistle.core.validate import cut, show
from whistle.scenario.errors import ScenarioError
from whistle.scenario.ops import (
    AdvanceOp,
    CancelOp,
    DefineOp,
    DepthOp,
    EndSessionOp,
    HaltOp,
    MassCancelOp,
    ModifyOp,
    NewOp,
    ReplaceOp,
    ResumeOp,
    StatusOp,
)
from whistle.scenario.parse import parse_line
from whistle.scenario.render import render_depth, render_error, render_event, render_status

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from whistle.core.events import Event
    from whistle.core.instrument import Instrument
    from whistle.scenario.ops import Op

__all__ = ["OnError", "ScenarioRunner", "run_scenario"]

_MAX_DETAIL = 400  # a reject detail names the rule and a cut value: longer is an echo

OnError = Literal["stop", "continue"]


@final
class ScenarioRunner:
    """Drives one ``Venue`` from scenario ops; counts the lines that failed."""

    def __init__(self, venue: Venue | None = None) -> None:
        self.venue = venue if venue is not None else Venue()
        self.errors = 0
        """How many lines produced a ``ScenarioError`` so far."""
        self.line = 0
        """The line being run (or last run): names the place when an exception escapes."""

    # ------------------------------------------------------------------ driving

    def run(
        self, lines: Iterable[str | bytes], *, on_error: OnError = "stop"
    ) -> Iterator[dict[str, Any]]:
        """Yield the output dicts of ``lines`` (line numbers start at 1).

        A bad line yields a ``ScenarioError`` dict; with ``on_error="stop"`` nothing after
        it runs, with ``"continue"`` the next line runs. Anything else that goes wrong (the
        venue's journal cannot be written, a bug) is not a bad line: the exception
        propagates after every output dict of the earlier lines was yielded, and
        ``self.line`` says which line was running.
        """
        if on_error not in ("stop", "continue"):
            raise ValueError(f'on_error must be "stop" or "continue", was {on_error!r}')
        for number, text in enumerate(lines, start=1):
            self.line = number
            try:
                op = parse_line(text, number)
                if op is None:
                    continue
                out = self.execute(op)
            except ScenarioError as exc:
                self.errors += 1
                yield render_error(exc.line, exc.message)
                if on_error == "stop":
                    return
                continue
            yield from out

    def execute(self, op: Op) -> list[dict[str, Any]]:
        """Run one op; return its output dicts. Raises ``ScenarioError`` if it cannot run."""
        venue = self.venue
        if isinstance(op, NewOp):
            expire = op.expire_at or 0
            if op.expire_in is not None:
                expire = venue.now_ns + op.expire_in
            return self._events(
                op.symbol,
                venue.submit(
                    op.symbol,
                    op.side,
                    op.qty,
                    op.price,
                    order_type=op.type,
                    tif=op.tif,
                    order_id=op.id,
                    account=op.account,
                    stop_price=op.stop_price,
                    display_qty=op.display_qty,
                    post_only=op.post_only,
                    stp=op.stp,
                    expire_ts_ns=expire,
                    protection_price=op.protection_price,
                ),
            )
        if isinstance(op, CancelOp):
            return self._events(op.symbol, venue.cancel(op.symbol, op.id, account=op.account))
        if isinstance(op, ModifyOp):
            return self._events(
                op.symbol,
                venue.modify(op.symbol, op.id, price=op.price, qty=op.qty, account=op.account),
            )
        if isinstance(op, ReplaceOp):
            return self._events(
                op.symbol,
                venue.replace(
                    op.symbol, op.id, op.new_id, price=op.price, qty=op.qty, account=op.account
                ),
            )
        if isinstance(op, MassCancelOp):
            return self._events(op.symbol, venue.mass_cancel(op.symbol, account=op.account))
        if isinstance(op, HaltOp):
            return self._events(op.symbol, venue.halt(op.symbol))
        if isinstance(op, ResumeOp):
            return self._events(op.symbol, venue.resume(op.symbol))
        if isinstance(op, EndSessionOp):
            return self._events(op.symbol, venue.end_session(op.symbol))
        if isinstance(op, AdvanceOp):
            return self._advance(op)
        if isinstance(op, DefineOp):
            return self._define(op)
        if isinstance(op, DepthOp):
            return [
                render_depth(venue.depth(inst.symbol_id, op.levels), inst)
                for inst in self._instruments(op.symbol, op.line)
            ]
        if isinstance(op, StatusOp):
            return [
                render_status(venue.status(inst.symbol_id), inst)
                for inst in self._instruments(op.symbol, op.line)
            ]
        raise AssertionError(f"unhandled op {op!r}")  # pragma: no cover

    # ------------------------------------------------------------------ helpers

    def _define(self, op: DefineOp) -> list[dict[str, Any]]:
        try:
            self.venue.add_instrument(
                op.symbol,
                tick_size=str(op.tick_size),
                lot_size=str(op.lot_size),
                min_qty=op.min_qty,
                max_qty=op.max_qty,
                price_band_pct=op.price_band_pct,
                reference_price=op.reference_price,
                symbol_id=op.symbol_id,
            )
        except WhistleError as exc:
            raise ScenarioError(op.line, f'op "define": {exc}') from None
        return []

    def _advance(self, op: AdvanceOp) -> list[dict[str, Any]]:
        venue = self.venue
        target = venue.now_ns + op.by if op.by is not None else op.to
        assert target is not None
        if target > MAX_TS_NS:
            raise ScenarioError(
                op.line,
                f'op "advance": time must stay at most {MAX_TS_NS} ns, got to={show(target)}',
            )
        if target < venue.now_ns:
            raise ScenarioError(
                op.line,
                f'op "advance": time must not go backwards: now is {venue.now_ns} ns,'
                f" got to={target}",
            )
        return self._events(None, venue.tick(target))

    def _instruments(self, symbol: str | None, line: int) -> list[Instrument]:
        venue = self.venue
        if symbol is None:
            return [venue.instrument(s) for s in venue.symbols]
        try:
            return [venue.instrument(symbol)]
        except KeyError:
            known = cut(", ".join(venue.symbols)) or "none defined"
            raise ScenarioError(line, f"unknown symbol {show(symbol)} (defined: {known})") from None

    def _events(self, symbol: str | None, events: list[Event]) -> list[dict[str, Any]]:
        venue = self.venue
        out: list[dict[str, Any]] = []
        cache: dict[int, Instrument | None] = {}
        for event in events:
            sid = event.symbol_id
            if sid in cache:
                inst = cache[sid]
            else:
                try:
                    inst = cache[sid] = venue.instrument(sid)
                except KeyError:
                    inst = cache[sid] = None
            if event.seq == 0:
                # A refused symbol or detail may echo a caller's huge string: cut it.
                detail = venue.last_reject_detail
                out.append(
                    render_event(
                        event,
                        inst,
                        symbol=cut(symbol) if inst is None and symbol is not None else None,
                        detail=cut(detail, _MAX_DETAIL) if detail is not None else None,
                    )
                )
            else:
                out.append(render_event(event, inst))
        return out


def run_scenario(
    lines: Iterable[str | bytes], *, on_error: OnError = "stop", venue: Venue | None = None
) -> Iterator[dict[str, Any]]:
    """Run ``lines`` on a fresh ``Venue`` (or ``venue``); yield one output dict per event.

    See ``ScenarioRunner.run``; use a ``ScenarioRunner`` directly to read the error count.
    """
    return ScenarioRunner(venue).run(lines, on_error=on_error)
