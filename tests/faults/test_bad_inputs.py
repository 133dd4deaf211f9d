"""Oversized and mistyped inputs into every Venue entry point, and a clock past 2**64 ns.

For every entry point and every field, a journaled venue with live orders gets each bad
value in turn. Each call may be refused (an unsequenced ``OrderRejected``, or a
``TypeError`` / ``ValueError`` / whistle error with a message) or accepted; it may not
raise anything else, and whatever it did must be exactly what the journal says: after
the calls the directory is left as a crash leaves it and reopened, and the recovered
books must equal the live ones, every journaled command must be well typed and in the
ranges of ``whistle.core.limits`` (no poison record), and ``replay`` must agree.
"""

from __future__ import annotations

import contextlib
import math
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from faults.harness import REFUSALS, TOTALS, FaultFailure, abandon, prepare, run_cli, run_replay
from whistle.coord.durability.datadir import iter_records
from whistle.coord.durability.records import Defined, Sequenced, Ticked
from whistle.coord.venue.facade import Venue
from whistle.core.commands import (
    CancelOrder,
    CancelReplace,
    Command,
    MassCancel,
    ModifyOrder,
    NewOrder,
)
from whistle.core.errors import WhistleError
from whistle.core.events import OrderRejected
from whistle.core.limits import MAX_ACCOUNT, MAX_ORDER_ID, MAX_PRICE_TICKS, MAX_QTY_LOTS, MAX_TS_NS

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

BIG = [2**63, 2**64, 2**64 + 1, -(2**63) - 1, 10**30, -1]
BOOLS_FLOATS = [True, False, 1.0, 1.5, -0.0, math.nan, math.inf, 1e300]
STRANGE = ["3", "", None, b"1", Decimal("1"), Decimal("NaN"), [1], {"a": 1}]
BAD_INTS = BIG + BOOLS_FLOATS + STRANGE
BAD_DECIMALS = [
    "10_0",
    "\u0661\u0662",  # Arabic-Indic 12
    "\uff11\uff10",  # full-width 10
    "\xa010",
    " 10",
    "10 ",
    "1e3",
    "NaN",
    "Infinity",
    "-5",
    "+1",
    "0x10",
    "9" * 80,
    "1.",
    ".5",
    "1.2.3",
    "",
    "0.000000000000000000000000000001",
    Decimal("NaN"),
    Decimal("1E+30"),
    *BIG,
    *BOOLS_FLOATS,
]
BAD_ENUMS = [True, False, 1.0, 99, -1, 2**64, "bogus", "", " buy", "BUY\x00", None, b"buy"]
BAD_SYMBOLS = [True, 1.0, 7.0, 2**64, -1, "CRASH1 ", "crash1", "", None, b"CRASH1"]

ALLOWED = (TypeError, ValueError, KeyError, WhistleError, *REFUSALS)
"""What a refusal may raise (``KeyError``: an unknown symbol name where one is required)."""


def _fresh(tmp_path: Path, name: str) -> Venue:
    data_dir = tmp_path / name
    prepare(data_dir, 16 * 1024)
    venue = Venue(data_dir=data_dir, checkpoint_every=20)
    venue.add_instrument("CRASH1", tick_size="0.01", lot_size="1", symbol_id=1)
    venue.add_instrument("CRASH2", tick_size="0.01", lot_size="1", symbol_id=2)
    for i in range(1, 9):
        venue.submit(
            "CRASH1", "buy" if i % 2 else "sell", "5", f"{100 + (i % 2) * -1 + i / 100:.2f}"
        )
    return venue


def _entry_points(venue: Venue) -> dict[str, tuple[Callable[..., Any], dict[str, Any], list[str]]]:
    # name -> (call, valid keyword arguments, the fields to attack)
    return {
        "submit": (
            venue.submit,
            {"symbol": "CRASH1", "side": "buy", "qty": "1", "price": "99.00"},
            [
                "symbol",
                "side",
                "qty",
                "price",
                "order_type",
                "tif",
                "order_id",
                "account",
                "stop_price",
                "display_qty",
                "post_only",
                "stp",
                "expire_ts_ns",
                "protection_price",
                "qty_lots",
                "price_ticks",
                "stop_price_ticks",
                "display_qty_lots",
                "protection_price_ticks",
            ],
        ),
        "cancel": (
            venue.cancel,
            {"symbol": "CRASH1", "order_id": 1},
            ["symbol", "order_id", "account"],
        ),
        "modify": (
            venue.modify,
            {"symbol": "CRASH1", "order_id": 2, "price": "99.50"},
            ["symbol", "order_id", "price", "qty", "price_ticks", "qty_lots", "account"],
        ),
        "replace": (
            venue.replace,
            {"symbol": "CRASH1", "order_id": 3, "price": "98.00", "qty": "2"},
            [
                "symbol",
                "order_id",
                "new_order_id",
                "price",
                "qty",
                "price_ticks",
                "qty_lots",
                "account",
            ],
        ),
        "mass_cancel": (venue.mass_cancel, {"symbol": "CRASH2"}, ["symbol", "account"]),
        "halt": (venue.halt, {"symbol": "CRASH2"}, ["symbol"]),
        "resume": (venue.resume, {"symbol": "CRASH2"}, ["symbol"]),
        "end_session": (venue.end_session, {"symbol": "CRASH2"}, ["symbol"]),
        "add_instrument": (
            venue.add_instrument,
            {"symbol": "NEW", "tick_size": "0.01", "lot_size": "1", "symbol_id": 9},
            [
                "symbol",
                "tick_size",
                "lot_size",
                "min_qty",
                "max_qty",
                "price_band_pct",
                "reference_price",
                "symbol_id",
            ],
        ),
    }


_DECIMAL_FIELDS = {
    "qty",
    "price",
    "stop_price",
    "display_qty",
    "protection_price",
    "tick_size",
    "lot_size",
    "min_qty",
    "max_qty",
    "price_band_pct",
    "reference_price",
}
_ENUM_FIELDS = {"side", "order_type", "tif", "stp"}


def _values(field: str) -> list[Any]:
    if field == "symbol":
        return BAD_SYMBOLS
    if field in _DECIMAL_FIELDS:
        return BAD_DECIMALS
    if field in _ENUM_FIELDS:
        return BAD_ENUMS
    if field == "post_only":
        return [2, 1.0, "yes", None, 2**64]
    return BAD_INTS


def _call(call: Callable[..., Any], kwargs: dict[str, Any]) -> str:
    args = dict(kwargs)
    symbol = args.pop("symbol")
    try:
        result = call(symbol, **args)
    except ALLOWED as exc:
        return f"refused {type(exc).__name__}"
    except Exception as exc:
        return f"RAISED {type(exc).__name__}: {exc}"[:300]
    if isinstance(result, list) and any(
        isinstance(e, OrderRejected) and e.seq == 0 for e in result
    ):
        return "rejected at the edge"
    return "accepted"


def _int_ok(value: object, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


def _poison(command: Command) -> str | None:
    # A journaled command must carry plain ints within the documented limits.
    # Ids and accounts as whistle.core.limits documents them; prices and quantities at
    # most their limit (a negative one is the engine's to reject, as a sequenced reject).
    low = -(2**63)
    checks: list[tuple[str, int, int]] = [("symbol_id", 1, 2**32)]
    if isinstance(command, NewOrder):
        checks += [
            ("order_id", 1, MAX_ORDER_ID),
            ("account", 0, MAX_ACCOUNT),
            ("side", 1, 2),
            ("order_type", 0, 16),
            ("tif", 0, 16),
            ("price_ticks", low, MAX_PRICE_TICKS),
            ("qty_lots", low, MAX_QTY_LOTS),
            ("stop_price_ticks", low, MAX_PRICE_TICKS),
            ("display_qty_lots", low, MAX_QTY_LOTS),
            ("stp", 0, 16),
            ("expire_ts_ns", 0, MAX_TS_NS),
            ("protection_price_ticks", low, MAX_PRICE_TICKS),
        ]
        if type(command.post_only) is not bool:
            return f"post_only {command.post_only!r}"
    elif isinstance(command, CancelOrder | ModifyOrder | CancelReplace):
        checks.append(("order_id", 1, MAX_ORDER_ID))
        if isinstance(command, ModifyOrder | CancelReplace):
            checks += [("price_ticks", low, MAX_PRICE_TICKS), ("qty_lots", low, MAX_QTY_LOTS)]
        if isinstance(command, CancelReplace):
            checks.append(("new_order_id", 1, MAX_ORDER_ID))
    if isinstance(command, CancelOrder | ModifyOrder | CancelReplace | MassCancel):
        account = command.account
        if account is not None and not _int_ok(account, 0, MAX_ACCOUNT):
            return f"account {account!r}"
    for name, low, high in checks:
        value = getattr(command, name)
        if not _int_ok(value, low, high):
            return f"{name} {value!r}"
    return None


def _reopen_and_check(venue: Venue, data_dir: Path, what: str) -> list[str]:
    problems: list[str] = []
    try:
        venue.tick()
        live: dict[str, str] | None = venue.state_hashes()
    except Exception as exc:
        problems.append(f"{what}: the live venue is broken: {type(exc).__name__}: {exc}"[:300])
        live = None
    last = venue.enq_seq
    abandon(venue)
    seqs: list[int] = []
    try:
        for record in iter_records(data_dir):
            if isinstance(record, Sequenced):
                seqs.append(record.enq_seq)
                bad = _poison(record.command)
                if bad is not None:
                    problems.append(f"{what}: poison record enq_seq {record.enq_seq}: {bad}")
            elif isinstance(record, Ticked) and not _int_ok(record.now_ns, 0, 2**64 - 1):
                problems.append(f"{what}: poison tick {record.now_ns!r}")
            elif isinstance(record, Defined) and type(record.instrument.symbol_id) is not int:
                problems.append(f"{what}: poison definition {record.instrument!r}")
    except Exception as exc:
        problems.append(f"{what}: the journal cannot be read: {type(exc).__name__}: {exc}")
        return problems
    if seqs != list(range(1, len(seqs) + 1)) or (seqs and seqs[-1] != last):
        problems.append(f"{what}: journal enq_seqs {seqs[-5:]} vs the venue's last {last}")
    rep = run_replay(data_dir)
    code, _ = run_cli(data_dir)
    try:
        reopened = Venue(data_dir=data_dir)
    except Exception as exc:
        problems.append(f"{what}: the directory no longer opens: {type(exc).__name__}: {exc}")
        return problems
    try:
        if live is not None and reopened.state_hashes() != live:
            problems.append(f"{what}: the recovered books differ from the live ones")
        if not rep.ok or code != 0:
            problems.append(f"{what}: replay {rep.detail} / exit {code}, but the venue opened")
    finally:
        abandon(reopened)
    return problems


def test_mistyped_and_oversized_inputs_never_reach_the_journal(tmp_path: Path) -> None:
    problems: list[str] = []
    calls = 0
    group = 0
    outcomes: dict[str, int] = {}
    probe = _fresh(tmp_path, "names")
    names = list(_entry_points(probe))
    abandon(probe)
    for name in names:
        for field in _entry_points(probe)[name][2]:
            group += 1
            data_dir_name = f"{name}-{field}-{group}"
            venue = _fresh(tmp_path, data_dir_name)
            call, valid, _ = _entry_points(venue)[name]
            accepted: list[str] = []
            for value in _values(field):
                kwargs = dict(valid)
                kwargs[field] = value
                if name == "add_instrument" and field != "symbol_id":
                    kwargs["symbol_id"] = 10 + calls % 1000
                if name == "add_instrument" and field != "symbol":
                    kwargs["symbol"] = f"N{calls}"
                outcome = _call(call, kwargs)
                calls += 1
                key = outcome.split(":")[0]
                outcomes[key] = outcomes.get(key, 0) + 1
                if outcome.startswith("RAISED"):
                    problems.append(f"{name}({field}={value!r}): {outcome}")
                elif outcome == "accepted":
                    accepted.append(repr(value)[:40])
            what = f"{name}({field}=...) after accepting {accepted}"
            found = _reopen_and_check(venue, tmp_path / data_dir_name, what)
            TOTALS["failed" if found else "a"] += 1
            problems += found
    print(f"bad inputs: {calls} calls in {group} venues: {outcomes}")
    if problems:
        raise FaultFailure(f"{len(problems)} problems:\n" + "\n".join(problems[:400]))


@pytest.mark.parametrize(
    "command",
    [
        NewOrder(1, True, 0, 1, 1, 1, 100, 5),
        NewOrder(1, 2**64, 0, 1, 1, 1, 100, 5),
        NewOrder(1, 1.0, 0, 1, 1, 1, 100, 5),  # type: ignore[arg-type]
        NewOrder(1, 77, 0, 1, 1, 1, 2**62, 5),
        NewOrder(1, 77, -1, 1, 1, 1, 100, 5),
        NewOrder(1, 77, 0, True, 1, 1, 100, 5),
        NewOrder(1, 77, 0, 1, 1, 1, 100, 5, expire_ts_ns=2**64),
        NewOrder(1, 77, 0, 1, 1, 1, 100, 5, post_only=1),  # type: ignore[arg-type]
        CancelOrder(1, 2**64),
        CancelOrder(1, 1, account=2**64),
        CancelOrder(True, 1),
        ModifyOrder(1, 2, price_ticks=2**64),
        CancelReplace(1, 3, 2**64, 100, 5),
        MassCancel(1, account=-(2**63) - 1),
    ],
    ids=lambda c: repr(c)[:60],
)
def test_a_malformed_command_through_enqueue_and_send_is_not_journaled(
    tmp_path: Path, command: Command
) -> None:
    problems: list[str] = []
    for how in ("enqueue", "send"):
        name = f"{how}-{abs(hash(repr(command))) % 10**8}"
        venue = _fresh(tmp_path, name)
        try:
            getattr(venue, how)(command)
        except ALLOWED:
            pass
        except Exception as exc:
            problems.append(f"{how}({command!r}) raised {type(exc).__name__}: {exc}")
        # The next valid command must trade normally and be journaled right after.
        try:
            venue.submit("CRASH1", "sell", "1", "90.00")
        except Exception as exc:
            problems.append(f"after {how}: a valid command raised {type(exc).__name__}: {exc}")
        problems += _reopen_and_check(venue, tmp_path / name, f"{how}({command!r})")
    if problems:
        raise FaultFailure("\n".join(problems))


@pytest.mark.parametrize("now", [2**64, 2**64 + 5, 2**63, 2**63 - 1 + 2**62, -1, True, 1.5])
def test_the_clock_pushed_past_its_range(tmp_path: Path, now: Any) -> None:
    venue = _fresh(tmp_path, "clock")
    before = venue.now_ns
    problems: list[str] = []
    for attempt in ("tick", "advance"):
        try:
            if attempt == "tick":
                venue.tick(now)
            else:
                venue.advance(now if isinstance(now, int) else 1)
        except ALLOWED:
            pass
        except Exception as exc:
            problems.append(f"{attempt}({now!r}) raised {type(exc).__name__}: {exc}")
    if venue.now_ns > 2**64 - 1:
        problems.append(f"the clock reads {venue.now_ns} after {now!r}")
    try:
        venue.submit("CRASH1", "sell", "1", "90.00")  # trades, journaled, at a valid time
    except Exception as exc:
        problems.append(
            f"after tick({now!r}) a valid command raised {type(exc).__name__}: {exc}"
            f" (the clock reads {venue.now_ns})"
        )
    if venue.now_ns < before:
        problems.append("the clock went backwards")
    problems += _reopen_and_check(venue, tmp_path / "clock", f"tick({now!r})")
    if problems:
        raise FaultFailure("\n".join(problems))


def test_a_venue_started_past_the_clock_range_is_refused_or_journals_cleanly(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "late"
    prepare(data_dir, 16 * 1024)
    try:
        venue = Venue(data_dir=data_dir, start_ns=2**64)
    except ALLOWED:
        return
    venue.add_instrument("CRASH1", symbol_id=1)
    with contextlib.suppress(ALLOWED):
        venue.submit("CRASH1", "buy", "1", "1.00")
    problems = _reopen_and_check(venue, data_dir, "Venue(start_ns=2**64)")
    if problems:
        raise FaultFailure("\n".join(problems))


def test_msgspec_structs_built_by_hand_are_checked(tmp_path: Path) -> None:
    # A command decoded from untrusted bytes can carry any type msgspec lets through.
    raw = msgspec.msgpack.encode(NewOrder(1, 5, 0, 1, 1, 1, 100, 5))
    command = msgspec.msgpack.decode(raw, type=Command)
    venue = _fresh(tmp_path, "decoded")
    assert isinstance(venue.enqueue(command), int)
    problems = _reopen_and_check(venue, tmp_path / "decoded", "a decoded command")
    assert not problems, problems
