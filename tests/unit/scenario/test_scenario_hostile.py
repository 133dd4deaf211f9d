"""Hostile scenario input: every one is a per-line ``ScenarioError`` with a short message,
never a traceback, and output already produced is never lost."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whistle.coord.venue.facade import Venue
from whistle.core.limits import MAX_TS_NS
from whistle.scenario import (
    ScenarioError,
    ScenarioRunner,
    StatusOp,
    parse_duration,
    parse_line,
    run_scenario,
)
from whistle.scenario.parse import _SPECS

DEFINE = '{"op":"define","symbol":"A","symbol_id":1}'
NEW = '{"op":"new","symbol":"A","side":"buy","qty":"1","price":"1"}'
BOM = "\ufeff"


def error_of(text: str | bytes, line: int = 7) -> str:
    with pytest.raises(ScenarioError) as info:
        parse_line(text, line)
    assert info.value.line == line
    return info.value.message


def outputs(lines: list[str], on_error: str = "continue") -> list[dict[str, Any]]:
    return list(run_scenario(lines, on_error=on_error))  # type: ignore[arg-type]


# -- byte order mark ---------------------------------------------------------------------


@pytest.mark.parametrize("first", [BOM + '{"op":"status"}', (BOM + '{"op":"status"}').encode()])
def test_a_bom_at_the_start_of_the_file_is_skipped(first: str | bytes) -> None:
    assert parse_line(first, 1) == StatusOp(line=1)


def test_a_bom_before_a_comment_or_blank_first_line_is_skipped() -> None:
    assert parse_line(BOM + "# title", 1) is None
    assert parse_line(BOM.encode() + b"\n", 1) is None


@pytest.mark.parametrize("text", [BOM + '{"op":"status"}', (BOM + '{"op":"status"}').encode()])
def test_a_bom_elsewhere_is_named(text: str | bytes) -> None:
    message = error_of(text, line=3)
    assert message.startswith("a UTF-8 byte order mark (U+FEFF) is only allowed at the start")
    assert "(column 1)" in message
    assert "invalid character" not in message


def test_a_bom_inside_a_line_is_named_with_its_column() -> None:
    message = error_of('{"op":' + BOM + '"status"}', line=1)
    assert "byte order mark" in message
    assert "(column 7)" in message


def test_a_bom_file_runs_through_the_runner() -> None:
    out = outputs([BOM + DEFINE, NEW], on_error="stop")
    assert [o["event"] for o in out] == ["OrderAccepted", "BookLevelChanged", "BestBidOfferChanged"]


# -- nesting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 100_000,
        '{"op":"status","symbol":' + "[" * 100_000 + "]" * 100_000 + "}",
    ],
)
def test_deep_nesting_is_a_line_error(text: str) -> None:
    assert error_of(text) == (
        "invalid JSON: nested too deeply (arrays or objects inside each other)"
    )


def test_deep_nesting_continues_with_the_next_line() -> None:
    runner = ScenarioRunner()
    out = list(runner.run([DEFINE, "[" * 100_000, NEW], on_error="continue"))
    assert out[0] == {
        "event": "ScenarioError",
        "line": 2,
        "error": "invalid JSON: nested too deeply (arrays or objects inside each other)",
    }
    assert [o["event"] for o in out[1:]] == [
        "OrderAccepted",
        "BookLevelChanged",
        "BestBidOfferChanged",
    ]
    assert runner.errors == 1


# -- long values are cut in messages -----------------------------------------------------

HUGE = 10_000_000  # 10 MB keeps the test quick; the cut does not depend on the size


def test_a_huge_field_name_is_cut() -> None:
    key = "k" * HUGE
    message = error_of('{"op":"status","' + key + '":1}')
    assert message.startswith('op "status": unknown field "kkkk')
    assert f"... ({HUGE:,} chars)" in message
    assert len(message) < 300


def test_a_huge_op_name_is_cut() -> None:
    message = error_of('{"op":"' + "x" * HUGE + '"}')
    assert message.startswith('unknown op "xxx')
    assert len(message) < 300


def test_a_huge_string_value_is_cut() -> None:
    message = error_of('{"op":"new","symbol":"A","side":"buy","qty":"1","id":"' + "9" * HUGE + '"}')
    assert message.startswith('op "new", field "id": expected an integer, got string "999')
    assert len(message) < 300


def test_a_huge_json_error_is_cut() -> None:
    message = error_of('{"op":"status","symbol":"' + "a" * HUGE)
    assert message.startswith("invalid JSON:")
    assert len(message) < 300


def test_a_huge_unknown_symbol_is_cut_in_the_reject_and_in_queries() -> None:
    symbol = "S" * HUGE
    out = outputs([DEFINE, '{"op":"new","symbol":"' + symbol + '","side":"buy","qty":"1"}'])
    (reject,) = out
    assert reject["reason"] == "UNKNOWN_SYMBOL"
    assert len(reject["symbol"]) < 200
    assert len(reject["detail"]) < 500
    (error,) = outputs([DEFINE, '{"op":"status","symbol":"' + symbol + '"}'])
    assert error["event"] == "ScenarioError"
    assert len(error["error"]) < 300


def test_a_huge_symbol_definition_is_refused_briefly() -> None:
    (error,) = outputs(['{"op":"define","symbol":"' + "S" * HUGE + '"}'])
    assert error["error"].startswith('op "define": symbol must be 1..64 printable ASCII')
    assert len(error["error"]) < 300


@pytest.mark.parametrize("digits", [30, 1000])
def test_a_huge_integer_is_refused_as_a_line_error(digits: int) -> None:
    (error,) = outputs(['{"op":"advance","by":1' + "0" * digits + "}"])
    assert error["event"] == "ScenarioError"
    assert len(error["error"]) < 300


def test_advance_past_the_clock_limit_is_a_line_error() -> None:
    (error,) = outputs([f'{{"op":"advance","to":{MAX_TS_NS + 1}}}'])
    assert error["error"].startswith('op "advance", field "to": expected a duration')


# -- an exception that escapes keeps the output before it -------------------------------


def test_an_escaping_exception_comes_after_every_earlier_output() -> None:
    venue = Venue()
    runner = ScenarioRunner(venue)
    calls = {"n": 0}
    real = venue.submit

    # The seam is the venue method the runner calls for a "new" line (submit); the
    # venue's own fast paths may skip its tick() entirely.
    def failing_submit(*args: Any, **kwargs: Any) -> list[Any]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    venue.submit = failing_submit  # type: ignore[method-assign]
    seen: list[dict[str, Any]] = []
    lines = [DEFINE, NEW, NEW.replace("buy", "sell")]
    with pytest.raises(OSError, match="No space left"):
        seen.extend(runner.run(lines, on_error="continue"))  # keeps what came before
    assert [o["event"] for o in seen] == [
        "OrderAccepted",
        "BookLevelChanged",
        "BestBidOfferChanged",
    ]
    assert runner.line == 3
    assert runner.errors == 0


# -- durations are bounded before any arithmetic ---------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "1" * 1_000_000 + "ms",  # would take seconds to multiply, then overflow Decimal
        "9" * 30 + "s",
        "1" * 65,
        2**63,
        10**5000,
        "9223372036854775.808ms",
    ],
    ids=["million-digits", "30-digits", "65-chars", "2**63", "10**5000", "just-past-max"],
)
def test_absurd_durations_are_refused_quickly(value: object) -> None:
    with pytest.raises(ValueError, match="expected a duration") as info:
        parse_duration(value)
    assert len(str(info.value)) < 300


def test_duration_arithmetic_is_exact() -> None:
    assert parse_duration("9223372036854775807ns") == MAX_TS_NS
    assert parse_duration("1.5ms") == 1_500_000
    with pytest.raises(ValueError):
        parse_duration("1.00000000000000000000000000001s")  # not a whole ns, past 28 digits


def test_advance_by_past_the_clock_limit_is_a_line_error() -> None:
    out = outputs(['{"op":"advance","by":9223372036854775807}', '{"op":"advance","by":1}'])
    assert [o["event"] for o in out] == ["ScenarioError"]
    assert out[0]["line"] == 2


# -- any JSON object is a result or a line error, never an exception ---------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([0, 1, -1, 2**63 - 1, 2**63, 2**64 - 1, 2**64])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["1", "10.00", "-1", "10_0", "\u0661", " 1", "1e3", "buy", "SELL", "gtd"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)


@st.composite
def hostile_ops(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(sorted(_SPECS)))
    fields = sorted(_SPECS[name][2])
    chosen = draw(st.lists(st.sampled_from(fields), unique=True, max_size=len(fields)))
    obj: dict[str, Any] = {"op": name}
    for field in chosen:
        obj[field] = draw(JSON_VALUES)
    if name != "define" and draw(st.booleans()):
        obj["symbol"] = "A"
    return obj


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(hostile_ops(), min_size=1, max_size=6))
def test_any_json_object_is_an_output_or_a_line_error(ops: list[dict[str, Any]]) -> None:
    lines = [DEFINE, NEW] + [msgspec.json.encode(op).decode() for op in ops]
    runner = ScenarioRunner()
    out = list(runner.run(lines, on_error="continue"))
    for item in out:
        assert item["event"] != "EngineFaulted", item
        if item["event"] == "ScenarioError":
            assert len(item["error"]) < 600
    assert runner.venue.state_hashes()  # the venue is still usable
