"""Scenario parsing: typed ops out, and errors that name the line, the expectation and what was
seen."""

from __future__ import annotations

import pytest

from whistle.scenario import (
    AdvanceOp,
    CancelOp,
    DefineOp,
    MassCancelOp,
    NewOp,
    ScenarioError,
    StatusOp,
    parse_duration,
    parse_line,
)


def error_of(text: str, line: int = 7) -> str:
    with pytest.raises(ScenarioError) as info:
        parse_line(text, line)
    assert info.value.line == line
    assert str(info.value) == f"line {line}: {info.value.message}"
    return info.value.message


@pytest.mark.parametrize("text", ["", "   ", "\n", "# a comment", "   # indented comment"])
def test_blank_and_comment_lines_are_skipped(text: str) -> None:
    assert parse_line(text, 1) is None


def test_new_order_keeps_values_as_written() -> None:
    op = parse_line(
        '{"op":"new","symbol":"A","side":"Buy","qty":"1.5","price":10,"id":3,'
        '"post_only":true,"expire_in":"2ms","account":null}',
        4,
    )
    assert op == NewOp(
        line=4,
        symbol="A",
        side="Buy",
        qty="1.5",
        price=10,
        id=3,
        post_only=True,
        expire_in=2_000_000,
    )


def test_other_ops() -> None:
    assert parse_line(b'{"op":"define","symbol":"A","tick_size":"0.5"}', 1) == DefineOp(
        line=1, symbol="A", tick_size="0.5"
    )
    assert parse_line('{"op":"cancel","symbol":"A","id":1}', 2) == CancelOp(
        line=2, symbol="A", id=1
    )
    assert parse_line('{"op":"mass_cancel"}', 3) == MassCancelOp(line=3)
    assert parse_line('{"op":"advance","to":"1.5s"}', 4) == AdvanceOp(line=4, to=1_500_000_000)
    assert parse_line('{"op":"status"}', 5) == StatusOp(line=5)


@pytest.mark.parametrize(
    ("value", "ns"),
    [
        (0, 0),
        (17, 17),
        ("17", 17),
        ("5ns", 5),
        ("250us", 250_000),
        ("250µs", 250_000),
        ("1ms", 1_000_000),
        ("1.5ms", 1_500_000),
        ("2s", 2_000_000_000),
        (" 3 ms ", 3_000_000),
    ],
)
def test_durations(value: object, ns: int) -> None:
    assert parse_duration(value) == ns


@pytest.mark.parametrize("value", [-1, "1h", "1.5ns", "ms", "-1ms", 1.0, True, None, "1e3"])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"op":"new"', "invalid JSON: Input data was truncated"),
        ("[1]", "expected a JSON object, got array"),
        ('"new"', 'expected a JSON object, got string "new"'),
        ("{}", 'missing field "op" (expected one of: define, new, cancel'),
        ('{"op":null}', 'field "op": expected a string, got null'),
        ('{"op":1}', 'field "op": expected a string, got integer 1'),
        ('{"op":"NEW"}', 'unknown op "NEW" (expected one of: define, new,'),
        ('{"op":"new","symbol":"A","side":"buy"}', 'op "new": missing field "qty" (got nothing)'),
        ('{"op":"new","symbol":"A","side":"buy","qty":null}', 'missing field "qty" (got null)'),
        ('{"op":"new"}', 'op "new": missing fields "symbol", "side", "qty" (got nothing)'),
        (
            '{"op":"new","symbol":"A","side":"buy","qty":1.5}',
            'op "new", field "qty": expected a decimal string (e.g. "1.25") or an integer,'
            " got number 1.5",
        ),
        (
            '{"op":"new","symbol":"A","side":"buy","qty":true}',
            'field "qty": expected a decimal string (e.g. "1.25") or an integer, got boolean true',
        ),
        (
            '{"op":"new","symbol":["A"],"side":"buy","qty":"1"}',
            'field "symbol": expected a string, got array',
        ),
        (
            '{"op":"new","symbol":"A","side":{},"qty":"1"}',
            'field "side": expected a string, got object',
        ),
        (
            '{"op":"cancel","symbol":"A","id":"1"}',
            'op "cancel", field "id": expected an integer, got string "1"',
        ),
        (
            '{"op":"cancel","symbol":"A","id":false}',
            'field "id": expected an integer, got boolean false',
        ),
        (
            '{"op":"new","symbol":"A","side":"b","qty":"1","post_only":1}',
            'field "post_only": expected a boolean',
        ),
        (
            '{"op":"new","symbol":"A","side":"b","qty":"1","colour":"red"}',
            'op "new": unknown field "colour" (expected one of: symbol, side,',
        ),
        (
            '{"op":"depth","levels":0}',
            'op "depth", field "levels": expected a positive integer, got integer 0',
        ),
        (
            '{"op":"define","symbol":"A","symbol_id":-1}',
            'field "symbol_id": expected a positive integer',
        ),
        ('{"op":"advance"}', 'op "advance": expected exactly one of "by" and "to", got neither'),
        (
            '{"op":"advance","by":1,"to":2}',
            'op "advance": expected exactly one of "by" and "to", got both',
        ),
        ('{"op":"advance","by":"soon"}', 'field "by": expected a duration (integer nanoseconds'),
        (
            '{"op":"new","symbol":"A","side":"b","qty":"1","expire_at":1,"expire_in":1}',
            'op "new": expected at most one of "expire_at" and "expire_in", got both',
        ),
    ],
)
def test_errors_say_what_was_expected_and_seen(text: str, message: str) -> None:
    assert message in error_of(text)


def test_invalid_utf8_is_reported() -> None:
    assert "invalid UTF-8" in error_of(b'{"op":"status","symbol":"\xff"}')
