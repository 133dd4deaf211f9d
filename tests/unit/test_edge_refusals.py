"""Issue 7, findings 7-9 and 11: every hostile input is refused as documented, through the
Python API (``whistle.Venue``), the scenario runner and the ``whistle`` command, and a
refusal leaves nothing in the journal.

The documented refusals (docs/matching-rules.md, "Refused at the edge"):

- a command field of the wrong type (a bool or a float where an int or an enum goes, a
  string id, a lenient decimal string): ``OrderRejected`` with ``seq == 0``, reason
  ``MALFORMED_COMMAND`` (or the enum's own reason, ``INVALID_SIDE``...);
- an int outside ``whistle.core.limits``: ``VALUE_OUT_OF_RANGE`` (``seq == 0``);
- a bad instrument definition: ``InstrumentError`` (a ``ValueError``) / ``ValueFormatError``;
- a malformed scenario line: a ``ScenarioError`` for that line, the run goes on with
  ``--on-error continue``;
- a CLI failure: one line on stderr, a documented exit status, no traceback.

Nothing refused is sequenced: ``enq_seq`` and the automatic order id do not move, the next
valid command gets the next ``enq_seq`` and trades, and the journal of a run with every
hostile input holds exactly the records of the same run without them.
"""

# ruff: noqa: E501
from __future__ import annotations

import errno
import inspect
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner

from whistle import Venue
from whistle.coord.durability.datadir import DataDirError, iter_records
from whistle.core.commands import CancelOrder, MassCancel, NewOrder
from whistle.core.enums import OrderType, Side, StpMode, TimeInForce
from whistle.core.errors import InstrumentError, ValueFormatError
from whistle.core.events import OrderAccepted, OrderRejected
from whistle.core.reasons import RejectReason as R
from whistle.feed.errors import FeedFormatError
from whistle.scenario import ScenarioRunner

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

MALFORMED = R.MALFORMED_COMMAND
RANGE = R.VALUE_OUT_OF_RANGE
HUGE = 10_000_000  # a 10 MB string: enough to see whether it is echoed


def small_journal() -> dict[str, Any]:
    # Keep test data directories small where the venue lets us (8 MiB segments otherwise).
    params = inspect.signature(Venue).parameters
    out: dict[str, Any] = {}
    if "segment_size" in params:
        out["segment_size"] = 1 << 20
    if "prealloc" in params:
        out["prealloc"] = False
    return out


# ---------------------------------------------------------------------------- Python API

BASE: dict[str, Any] = {"symbol": "A", "side": "buy", "qty": "1", "price": "10.00"}

SUBMITS: list[tuple[str, dict[str, Any], R]] = [
    # enums: a member, its exact int or its ASCII name; nothing else
    ("side-true", {"side": True}, R.INVALID_SIDE),
    ("side-float", {"side": 1.0}, R.INVALID_SIDE),
    ("side-space", {"side": " buy"}, R.INVALID_SIDE),
    ("side-fullwidth", {"side": "\uff22\uff35\uff39"}, R.INVALID_SIDE),
    ("side-other-enum", {"side": TimeInForce.GTC}, R.INVALID_SIDE),
    ("side-huge", {"side": "b" * HUGE}, R.INVALID_SIDE),
    ("type-true", {"order_type": True}, R.INVALID_ORDER_TYPE),
    ("type-dotless-i", {"order_type": "l\u0131m\u0131t"}, R.INVALID_ORDER_TYPE),
    ("tif-float", {"tif": 1.0}, R.INVALID_TIF),
    ("stp-true", {"stp": True}, R.INVALID_STP_MODE),
    # decimals: ASCII digits with one optional point
    ("qty-underscore", {"qty": "10_0"}, MALFORMED),
    ("qty-arabic-indic", {"qty": "\u0661\u0662"}, MALFORMED),
    ("qty-fullwidth", {"qty": "\uff11\uff10"}, MALFORMED),
    ("qty-nbsp", {"qty": "\u00a010"}, MALFORMED),
    ("qty-space", {"qty": " 1"}, MALFORMED),
    ("qty-bool", {"qty": True}, MALFORMED),
    ("qty-huge", {"qty": "1" * HUGE}, MALFORMED),
    ("price-exponent", {"price": "1e1"}, MALFORMED),
    ("price-nan", {"price": "NaN"}, MALFORMED),
    ("price-inf", {"price": "inf"}, MALFORMED),
    ("price-float", {"price": 10.0}, MALFORMED),
    # ids, accounts and times: ints (not bool, not float) inside whistle.core.limits
    ("order-id-2**63", {"order_id": 2**63}, RANGE),
    ("order-id-2**64", {"order_id": 2**64}, RANGE),
    ("order-id-0", {"order_id": 0}, RANGE),
    ("order-id-float", {"order_id": 1.5}, MALFORMED),
    ("order-id-str", {"order_id": "3"}, MALFORMED),
    ("order-id-bool", {"order_id": True}, MALFORMED),
    ("order-id-nan", {"order_id": Decimal("NaN")}, MALFORMED),
    ("account-negative", {"account": -1}, RANGE),
    ("account-2**64", {"account": 2**64}, RANGE),
    ("account-bool", {"account": True}, MALFORMED),
    ("expire-2**64", {"tif": "gtd", "expire_ts_ns": 2**64}, RANGE),
    ("expire-float", {"tif": "gtd", "expire_ts_ns": 5.0}, MALFORMED),
    ("expire-negative", {"tif": "gtd", "expire_ts_ns": -1}, RANGE),
    ("qty-lots-2**64", {"qty": None, "qty_lots": 2**64}, RANGE),
    ("qty-2**64", {"qty": 2**64}, RANGE),
    ("price-ticks-float", {"price": None, "price_ticks": 1000.0}, MALFORMED),
    ("post-only-int", {"post_only": 1}, MALFORMED),
]

OTHER_CALLS: list[tuple[str, Callable[[Venue], list[Any]], R]] = [
    ("cancel-2**64", lambda v: v.cancel("A", 2**64), RANGE),
    ("cancel-float", lambda v: v.cancel("A", 1.5), MALFORMED),
    ("cancel-str", lambda v: v.cancel("A", "1"), MALFORMED),
    ("cancel-bool", lambda v: v.cancel("A", True), MALFORMED),
    ("cancel-account-bool", lambda v: v.cancel("A", 1, account=True), MALFORMED),
    ("modify-price-float", lambda v: v.modify("A", 1, price_ticks=1000.0), MALFORMED),
    ("modify-qty-underscore", lambda v: v.modify("A", 1, qty="1_0"), MALFORMED),
    ("replace-new-id-2**63", lambda v: v.replace("A", 1, 2**63, price="10", qty="1"), RANGE),
    (
        "replace-new-id-nan",
        lambda v: v.replace("A", 1, Decimal("NaN"), price="10", qty="1"),
        MALFORMED,
    ),
    ("mass-cancel-account-negative", lambda v: v.mass_cancel("A", account=-1), RANGE),
    ("mass-cancel-all-account-negative", lambda v: v.mass_cancel(account=-1), RANGE),
    ("mass-cancel-account-float", lambda v: v.mass_cancel("A", account=1.0), MALFORMED),
    (
        "send-side-true",
        lambda v: v.send(NewOrder(1, 50, 0, True, 1, 1, 1000, 1)),  # type: ignore[arg-type]
        MALFORMED,
    ),
    ("send-side-7", lambda v: v.send(NewOrder(1, 50, 0, 7, 1, 1, 1000, 1)), R.INVALID_SIDE),
    ("send-cancel-2**64", lambda v: v.send(CancelOrder(1, 2**64)), RANGE),
    ("send-mass-cancel-negative", lambda v: v.send(MassCancel(1, -1)), RANGE),
    ("symbol-float", lambda v: v.submit(1.0, "buy", "1", "10"), R.UNKNOWN_SYMBOL),
    ("symbol-float-7", lambda v: v.submit(7.0, "buy", "1", "10"), R.UNKNOWN_SYMBOL),
    ("symbol-bool", lambda v: v.submit(True, "buy", "1", "10"), R.UNKNOWN_SYMBOL),
    ("symbol-huge", lambda v: v.submit("S" * HUGE, "buy", "1", "10"), R.UNKNOWN_SYMBOL),
]

# A wrong type is a TypeError (the venue's choice) or an InstrumentError (Instrument's own
# check, a ValueError); a wrong value an InstrumentError / ValueFormatError (ValueErrors).
TYPE = (TypeError, InstrumentError)
DEFINES: list[tuple[str, Callable[[Venue], object], tuple[type[Exception], ...], str]] = [
    ("symbol-int", lambda v: v.add_instrument(123), TYPE, "symbol"),
    ("symbol-bool", lambda v: v.add_instrument(True), TYPE, "symbol"),
    ("symbol-bytes", lambda v: v.add_instrument(b"B"), TYPE, "symbol"),
    ("symbol-space", lambda v: v.add_instrument("B C"), (InstrumentError,), "symbol must be"),
    ("symbol-huge", lambda v: v.add_instrument("B" * HUGE), (InstrumentError,), "symbol must"),
    ("id-true", lambda v: v.add_instrument("B", symbol_id=True), TYPE, "symbol_id"),
    ("id-float", lambda v: v.add_instrument("B", symbol_id=1.0), TYPE, "symbol_id"),
    ("id-1.5", lambda v: v.add_instrument("B", symbol_id=1.5), TYPE, "symbol_id"),
    ("id-2**32", lambda v: v.add_instrument("B", symbol_id=2**32), (InstrumentError,), "symbol_id"),
    ("id-nan", lambda v: v.add_instrument("B", symbol_id=Decimal("NaN")), TYPE, "symbol_id"),
    ("tick-underscore", lambda v: v.add_instrument("B", tick_size="0_01"), (ValueFormatError,), "tick_size"),
    ("tick-exponent", lambda v: v.add_instrument("B", tick_size="1e-2"), (ValueFormatError,), "tick_size"),
    ("lot-fullwidth", lambda v: v.add_instrument("B", lot_size="\uff11"), (ValueFormatError,), "lot_size"),
    ("band-nbsp", lambda v: v.add_instrument("B", price_band_pct="\u00a05"), (ValueFormatError,), "price_band_pct"),
    ("min-qty-float", lambda v: v.add_instrument("B", min_qty=1.0), (ValueFormatError,), "qty"),
]  # fmt: skip


def setup_book(venue: Venue) -> None:
    """A symbol with one resting sell (order 1) that a buy at 10.00 trades with."""
    venue.add_instrument("A", symbol_id=1)
    (accepted, *_) = venue.submit("A", "sell", "5", "10.00", account=9)
    assert isinstance(accepted, OrderAccepted)
    assert accepted.order_id == 1


@pytest.fixture
def venue() -> Iterator[Venue]:
    v = Venue()
    setup_book(v)
    yield v
    v.stop()


def assert_refused(venue: Venue, events: list[Any], reason: R) -> None:
    assert events, "a refusal is reported"
    for event in events:
        assert isinstance(event, OrderRejected), event
        assert (event.seq, event.enq_seq) == (0, 0), event
        assert event.reason == reason, (R.of(event.reason), venue.last_reject_detail)
    detail = venue.last_reject_detail
    assert detail is not None
    assert len(detail) < 400, "a refused value is cut in the detail"


def assert_nothing_moved(venue: Venue, enq_seq: int, next_id: int, hashes: dict[str, str]) -> None:
    assert venue.enq_seq == enq_seq
    assert type(venue.next_order_id("A")) is int
    assert venue.next_order_id("A") == next_id
    assert venue.state_hashes() == hashes
    # The next valid command is the next enq_seq, gets the next automatic id, and trades:
    # nothing refused was queued ahead of it.
    events = venue.submit("A", "buy", "1", "10.00")
    assert isinstance(events[0], OrderAccepted)
    assert (events[0].enq_seq, events[0].order_id) == (enq_seq + 1, next_id)
    assert any(type(e).__name__ == "TradeOccurred" for e in events)


def state(venue: Venue) -> tuple[int, int, dict[str, str]]:
    return venue.enq_seq, venue.next_order_id("A"), venue.state_hashes()


@pytest.mark.parametrize(
    ("kwargs", "reason"), [c[1:] for c in SUBMITS], ids=[c[0] for c in SUBMITS]
)
def test_submit_refusals(venue: Venue, kwargs: dict[str, Any], reason: R) -> None:
    before = state(venue)
    assert_refused(venue, venue.submit(**{**BASE, **kwargs}), reason)
    assert_nothing_moved(venue, *before)


@pytest.mark.parametrize(
    ("call", "reason"), [c[1:] for c in OTHER_CALLS], ids=[c[0] for c in OTHER_CALLS]
)
def test_other_refusals(venue: Venue, call: Callable[[Venue], list[Any]], reason: R) -> None:
    before = state(venue)
    assert_refused(venue, call(venue), reason)
    assert_nothing_moved(venue, *before)


@pytest.mark.parametrize(
    ("call", "error", "match"), [c[1:] for c in DEFINES], ids=[c[0] for c in DEFINES]
)
def test_define_refusals(
    venue: Venue, call: Callable[[Venue], object], error: tuple[type[Exception], ...], match: str
) -> None:
    before = state(venue)
    with pytest.raises(error, match=match) as info:
        call(venue)
    assert isinstance(info.value, (TypeError, ValueError)), "a TypeError or a ValueError"
    assert len(str(info.value)) < 400, "a refused value is cut in the message"
    assert venue.symbols == ["A"]
    assert_nothing_moved(venue, *before)


def test_enum_members_ints_and_names_are_still_accepted(venue: Venue) -> None:
    for side in (Side.BUY, 1, "buy", "BUY", "Buy"):
        (accepted, *_) = venue.submit(
            "A", side, "1", "9.00", order_type=OrderType.LIMIT, tif=1, stp=StpMode.NONE
        )
        assert isinstance(accepted, OrderAccepted), venue.last_reject_detail


# ---------------------------------------------------------------------------- the journal


# Calls on every symbol at once: each is refused per symbol, and no tick may follow when
# all were refused (a tick is a record). Checked on their own below.
ALL_SYMBOLS = {"mass-cancel-all-account-negative"}


def hostile_calls(venue: Venue) -> None:
    for _name, kwargs, _reason in SUBMITS:
        venue.submit(**{**BASE, **kwargs})
    for name, call, _reason in OTHER_CALLS:
        if name not in ALL_SYMBOLS:
            call(venue)
    for _name, define, error, _match in DEFINES:
        with pytest.raises(error):
            define(venue)


def good_run(venue: Venue, hostile: bool) -> None:
    setup_book(venue)
    if hostile:
        hostile_calls(venue)
    venue.submit("A", "buy", "1", "10.00")
    if hostile:
        hostile_calls(venue)
    venue.cancel("A", 1)
    venue.submit("A", "sell", "3", "11.00", tif="day")
    if hostile:
        hostile_calls(venue)


def test_refusals_leave_nothing_in_the_journal(tmp_path: Path) -> None:
    clean, dirty = tmp_path / "clean", tmp_path / "dirty"
    for path, hostile in ((clean, False), (dirty, True)):
        venue = Venue(data_dir=path, **small_journal())
        good_run(venue, hostile)
        venue.stop()
    expected = list(iter_records(clean))
    assert list(iter_records(dirty)) == expected
    # And the directory reopens, to the same state and the same next automatic id.
    reopened = [Venue(data_dir=p, **small_journal()) for p in (clean, dirty)]
    try:
        a, b = reopened
        assert b.state_hashes() == a.state_hashes()
        assert b.enq_seq == a.enq_seq
        assert b.next_order_id("A") == a.next_order_id("A")
    finally:
        for v in reopened:
            v.stop()


@pytest.mark.parametrize("name", sorted(ALL_SYMBOLS))
def test_an_all_symbols_refusal_leaves_nothing_in_the_journal(tmp_path: Path, name: str) -> None:
    (call,) = [c for n, c, _ in OTHER_CALLS if n == name]
    for sub, hostile in (("clean", False), ("dirty", True)):
        venue = Venue(data_dir=tmp_path / sub, **small_journal())
        setup_book(venue)
        venue.add_instrument("B", symbol_id=2)
        if hostile:
            events = call(venue)
            assert events
            assert all(isinstance(e, OrderRejected) and e.seq == 0 for e in events), events
        venue.submit("A", "buy", "1", "10.00")
        venue.stop()
    assert list(iter_records(tmp_path / "dirty")) == list(iter_records(tmp_path / "clean")), (
        "a refusal on every symbol journals nothing (not even a tick)"
    )


def test_a_bad_definition_does_not_brick_the_data_directory(tmp_path: Path) -> None:
    venue = Venue(data_dir=tmp_path / "d", **small_journal())
    for symbol_id in (True, 1.0, 1.5):
        with pytest.raises(TYPE):
            venue.add_instrument("A", symbol_id=symbol_id)
    venue.add_instrument("A", symbol_id=1)
    venue.stop()
    again = Venue(data_dir=tmp_path / "d", **small_journal())
    try:
        assert again.symbols == ["A"]
        assert again.instrument("A").symbol_id == 1
    finally:
        again.stop()


# ---------------------------------------------------------------------------- scenarios

DEFINE_LINE = '{"op":"define","symbol":"A","symbol_id":1}'
GOOD_LINES = [
    DEFINE_LINE,
    '{"op":"new","symbol":"A","side":"sell","qty":"5","price":"10.00","account":9}',
    '{"op":"new","symbol":"A","side":"buy","qty":"1","price":"10.00"}',
]
NEW = '{"op":"new","symbol":"A","qty":"1","price":"10.00",'

# (line, expected): a reject reason, or the start of the ScenarioError message.
HOSTILE_LINES: list[tuple[str, R | str]] = [
    (NEW + '"side":true}', 'op "new", field "side": expected a string, got boolean true'),
    (NEW + '"side":"buy","tif":1.0}', 'op "new", field "tif": expected a string, got number'),
    (NEW + '"side":" buy"}', R.INVALID_SIDE),
    (NEW + '"side":"\uff22\uff35\uff39"}', R.INVALID_SIDE),
    ('{"op":"new","symbol":7.0,"side":"buy","qty":"1"}', 'op "new", field "symbol": expected'),
    ('{"op":"new","symbol":"A","side":"buy","qty":"10_0","price":"10"}', MALFORMED),
    ('{"op":"new","symbol":"A","side":"buy","qty":"\u0661\u0662","price":"10"}', MALFORMED),
    ('{"op":"new","symbol":"A","side":"buy","qty":"\uff11\uff10","price":"10"}', MALFORMED),
    ('{"op":"new","symbol":"A","side":"buy","qty":"\u00a010","price":"10"}', MALFORMED),
    (NEW + '"side":"buy","id":9223372036854775808}', RANGE),
    (NEW + '"side":"buy","id":1.5}', 'op "new", field "id": expected an integer, got number 1.5'),
    (NEW + '"side":"buy","id":"3"}', 'op "new", field "id": expected an integer, got string "3"'),
    (NEW + '"side":"buy","account":18446744073709551616}', RANGE),
    ('{"op":"mass_cancel","symbol":"A","account":-1}', RANGE),
    ('{"op":"cancel","symbol":"A","id":18446744073709551616}', RANGE),
    ('{"op":"define","symbol":123}', 'op "define", field "symbol": expected a string'),
    ('{"op":"define","symbol":"B","symbol_id":true}', 'op "define", field "symbol_id": expected'),
    ('{"op":"define","symbol":"B C"}', 'op "define": symbol must be'),
    ('{"op":"define","symbol":"B","tick_size":"0_01"}', 'op "define": tick_size must be'),
    ("[" * 100_000, "invalid JSON: nested too deeply"),
    ('{"op":"status","' + "k" * HUGE + '":1}', 'op "status": unknown field "kkk'),
    ('{"op":"advance","to":9223372036854775808}', 'op "advance", field "to": expected a duration'),
    (
        '{"op":"advance","by":"' + "1" * HUGE + 'ms"}',
        'op "advance", field "by": expected a duration',
    ),
    ("\ufeff" + '{"op":"status"}', "a UTF-8 byte order mark (U+FEFF) is only allowed at"),
]


def check_hostile_output(out: list[dict[str, Any]], expected: R | str) -> None:
    assert len(out) == 1, out
    (item,) = out
    if isinstance(expected, R):
        assert item["event"] == "OrderRejected", item
        assert (item["seq"], item["enq_seq"], item["reason"]) == (0, 0, expected.name), item
        assert len(item.get("detail", "")) < 500
    else:
        assert item["event"] == "ScenarioError", item
        assert item["error"].startswith(expected), item["error"][:300]
        assert len(item["error"]) < 400


@pytest.mark.parametrize(
    ("line", "expected"),
    HOSTILE_LINES,
    ids=[f"{i}-{str(e)[:30]}" for i, (_, e) in enumerate(HOSTILE_LINES)],
)
def test_scenario_refusals(line: str, expected: R | str) -> None:
    runner = ScenarioRunner()
    list(runner.run(GOOD_LINES))
    before = runner.venue.enq_seq
    check_hostile_output(list(runner.run([*[""] * 3, line], on_error="continue")), expected)
    assert runner.venue.enq_seq == before


def test_a_bom_at_the_start_of_a_scenario_is_accepted() -> None:
    out = list(ScenarioRunner().run(["\ufeff" + DEFINE_LINE, '{"op":"status"}']))
    assert [o["event"] for o in out] == ["Status"]


def test_scenario_refusals_leave_nothing_in_the_journal(tmp_path: Path) -> None:
    hostile = [line for line, _ in HOSTILE_LINES]
    for name, lines in (
        ("clean", GOOD_LINES),
        ("dirty", [*GOOD_LINES[:2], *hostile, GOOD_LINES[2]]),
    ):
        venue = Venue(data_dir=tmp_path / name, **small_journal())
        list(ScenarioRunner(venue).run(lines, on_error="continue"))
        venue.stop()
    assert list(iter_records(tmp_path / "dirty")) == list(iter_records(tmp_path / "clean"))


# ---------------------------------------------------------------------------- the CLI

SCENARIO_TEXT = "\n".join(GOOD_LINES) + "\n"


def whistle(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "WHISTLE_DEBUG"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "whistle.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=full_env,
    )


def assert_one_line(proc: subprocess.CompletedProcess[str], status: int, *words: str) -> str:
    assert proc.returncode == status, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, lines
    (line,) = lines
    assert line.startswith("whistle "), line
    assert len(line) <= 400
    for word in words:
        assert word in line, line
    return line


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "good.jsonl"
    path.write_text(SCENARIO_TEXT, encoding="utf-8")
    return path


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_cli_output_to_a_full_device(scenario_file: Path) -> None:
    proc = whistle("script", "run", str(scenario_file), "-o", "/dev/full")
    assert_one_line(proc, 74, "whistle script run: error:", "ENOSPC", "/dev/full", "free space")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_cli_stdout_to_a_full_device_for_another_owners_command(scenario_file: Path) -> None:
    # `whistle journal inspect` (another module, rich output) > /dev/full
    data_dir = scenario_file.parent / "d"
    done = whistle("script", "run", str(scenario_file), "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "whistle.cli", "journal", "inspect", str(data_dir)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    assert proc.returncode == 74, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Exception ignored" not in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "ENOSPC]: the standard output" in proc.stderr


def test_cli_locked_writer(scenario_file: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    holder = Venue(data_dir=data_dir, **small_journal())
    try:
        proc = whistle("script", "run", str(scenario_file), "--data-dir", str(data_dir))
        assert_one_line(proc, 75, "whistle script run: error:", "stop it")
    finally:
        holder.stop()
    records = list(iter_records(data_dir))
    assert not any(type(r).__name__ == "Defined" for r in records), "nothing was written"


def _read_only_dir(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    # A real read-only file system when we may mount one (root), else a directory
    # without write permission (a non-root user); root ignores permissions.
    target = tmp_path / "ro"
    target.mkdir()
    if os.geteuid() == 0:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(target)],
            capture_output=True,
            check=False,
        )
        if mounted.returncode != 0:
            pytest.skip(f"cannot mount a read-only tmpfs: {mounted.stderr!r}")
        try:
            yield target, "EROFS"
        finally:
            subprocess.run(["umount", str(target)], check=False)
        return
    target.chmod(0o555)
    try:
        yield target, "EACCES"
    finally:
        target.chmod(0o755)


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    yield from _read_only_dir(tmp_path)


def test_cli_read_only_data_dir(scenario_file: Path, read_only_dir: tuple[Path, str]) -> None:
    path, code = read_only_dir
    proc = whistle("script", "run", str(scenario_file), "--data-dir", str(path / "d"))
    assert_one_line(proc, 73, "whistle script run: error:", code, str(path / "d"))


def test_cli_nested_brackets_continue(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text(DEFINE_LINE + "\n" + "[" * 100_000 + "\n" + GOOD_LINES[1] + "\n")
    proc = whistle("script", "run", str(path), "--on-error", "continue")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "line 2: invalid JSON: nested too deeply" in proc.stderr
    assert '"event":"OrderAccepted"' in proc.stdout


def test_cli_bom_and_huge_field_name(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf" + SCENARIO_TEXT.encode() + b'{"op":"status","' + b"k" * HUGE + b'":1}\n'
    )
    proc = whistle("script", "run", str(path), "--on-error", "continue")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "line 1" not in proc.stderr, "the BOM is accepted"
    assert '"event":"TradeOccurred"' in proc.stdout
    assert len(proc.stderr) < 1000, "the field name is cut"
    assert len(proc.stdout) < 10_000


def test_cli_debug_shows_the_traceback(scenario_file: Path) -> None:
    proc = whistle("--debug", "script", "run", str(scenario_file), "-o", "/dev/full")
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr
    proc = whistle(
        "script", "run", str(scenario_file), "-o", "/dev/full", env={"WHISTLE_DEBUG": "1"}
    )
    assert "Traceback" in proc.stderr


def test_cli_output_of_earlier_lines_survives_an_escaping_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from whistle.cli.main import main

    real = ScenarioRunner.execute

    def execute(self: ScenarioRunner, op: Any) -> list[dict[str, Any]]:
        if op.line == 3:
            raise OSError(errno.ENOSPC, "No space left on device", "/data/commands/x.wseg")
        return real(self, op)

    monkeypatch.setattr(ScenarioRunner, "execute", execute)
    out = tmp_path / "out.jsonl"
    path = tmp_path / "s.jsonl"
    path.write_text(SCENARIO_TEXT, encoding="utf-8")
    result = CliRunner().invoke(main, ["script", "run", str(path), "-o", str(out)])
    assert result.exit_code == 74
    assert result.stderr.count("\n") == 1
    assert "/data/commands/x.wseg" in result.stderr
    assert "while running line 3" in result.stderr
    assert out.read_text().count("\n") == 3, "the events of line 2 were written"


@pytest.mark.parametrize(
    ("exc", "status", "word"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "/x"), 74, "ENOSPC"),
        (OSError(errno.EROFS, "Read-only file system", "/x"), 73, "EROFS"),
        (PermissionError(errno.EACCES, "Permission denied", "/x"), 73, "EACCES"),
        (OSError(errno.EIO, "Input/output error"), 74, "EIO"),
        (DataDirError("records do not fit together"), 65, "data directory"),
        (InstrumentError("symbol must be ..."), 65, "invalid input"),
        (FeedFormatError("unknown message type 0x5a at byte offset 7"), 65, "check --format"),
        (RuntimeError("boom"), 70, "this is a bug"),
        (RecursionError("maximum recursion depth exceeded"), 65, "nested too deeply"),
    ],
)
def test_cli_maps_errors_of_every_command(
    exc: Exception, status: int, word: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Any subcommand, including ones added later by other modules, gets the mapping.
    import click

    from whistle.cli.main import main

    @click.command("boom")
    def boom() -> None:
        raise exc

    monkeypatch.setitem(main.commands, "boom", boom)
    result = CliRunner().invoke(main, ["boom"])
    assert result.exit_code == status, result.output
    assert result.stderr.startswith("whistle boom: error: "), result.stderr
    assert result.stderr.count("\n") == 1
    assert word in result.stderr


def test_cli_maps_errors_of_another_owners_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # `whistle replay` lives in another module and has no error handling for OSError.
    import whistle.cli.replay as replay_cli
    from whistle.cli.main import main

    def fail(*args: object, **kwargs: object) -> object:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x"))

    monkeypatch.setattr(replay_cli, "run_replay", fail)
    result = CliRunner().invoke(main, ["replay", str(tmp_path)])
    assert result.exit_code == 74, result.output
    assert result.stderr.startswith("whistle replay: error: No space left on device [ENOSPC]")
    assert result.stderr.count("\n") == 1


def test_cli_usage_errors_stay_click_errors() -> None:
    from whistle.cli.main import main

    result = CliRunner().invoke(main, ["script", "run", "--no-such-option"])
    assert result.exit_code == 2
    assert "No such option" in result.stderr


def test_cli_an_error_caused_by_an_os_error_keeps_its_status() -> None:
    from whistle.cli.errors import describe

    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device", "/d/events/x.wseg")
        except OSError as cause:
            raise DataDirError("cannot write the event journal") from cause
    except DataDirError as exc:
        status, text = describe(exc)
    assert status == 74
    assert text.startswith("cannot write the event journal")
    assert "ENOSPC" in text
    assert "/d/events/x.wseg" in text
