"""Parse scenario lines into typed ops (``whistle.scenario.ops``).

The parser checks the *shape* of a line: valid JSON, an object, a known ``"op"``, known
field names, required fields present, JSON types right (decimals as strings or integers,
never floats; ids as integers; flags as booleans; enum names as strings). Values are
checked downstream by the venue (enum names, decimal grids) and show up as edge rejects.
Every error is a ``ScenarioError`` naming the line, what was expected and what was seen.
"""

from __future__ import annotations

import re
from decimal import Context, Decimal
from typing import TYPE_CHECKING, Any

import msgspec

from whistle.core.limits import MAX_TS_NS
from whistle.core.validate import MAX_ECHO, cut, show
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

if TYPE_CHECKING:
    from collections.abc import Callable

    from whistle.scenario.ops import Op

__all__ = ["OP_NAMES", "json_type_name", "parse_duration", "parse_line", "parse_object"]

# Field kinds. Each checker returns the value to store or raises ``_Bad(expected)``.
_STR = "a string"
_DEC = 'a decimal string (e.g. "1.25") or an integer'
_INT = "an integer"
_POS = "a positive integer"
_BOOL = "a boolean (true or false)"
_DUR = 'a duration (integer nanoseconds or a string such as "250us", "1ms", "2s")'

_EXACT = Context(prec=100)
_MAX_DURATION_CHARS = 64  # 19 digits, a fraction and a unit fit; longer is not a duration
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s)?\s*", re.ASCII)


class _Bad(Exception):
    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def json_type_name(value: object) -> str:
    """Return the JSON name of a decoded value's type, with the value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if isinstance(value, int):
        return f"integer {show(value)}"
    if isinstance(value, float):
        return f"number {value!r}"
    if isinstance(value, str):
        return f"string {_quote(value)}"
    if isinstance(value, list):
        return "array"
    return "object"


def _quote(text: str) -> str:
    # JSON-quoted, cut: a scenario may carry a 100 MB string, a message never does.
    if len(text) <= MAX_ECHO:
        return msgspec.json.encode(text).decode()
    return f"{msgspec.json.encode(text[:MAX_ECHO]).decode()}... ({len(text):,} chars)"


def parse_duration(value: object) -> int:
    """Return a duration in nanoseconds: an int as is, or ``"<number><unit>"``.

    Units are ``ns`` (the default), ``us`` (or ``µs``), ``ms`` and ``s``; a fraction is
    allowed when the result is a whole number of nanoseconds (``"1.5ms"``). Negative
    durations, durations above ``MAX_TS_NS`` (the clock's range) and strings longer than
    64 characters are refused. Raises ``ValueError`` with what was expected.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"expected {_DUR}, got negative integer {show(value)}")
        if value > MAX_TS_NS:
            raise ValueError(f"expected {_DUR} of at most {MAX_TS_NS} ns, got {show(value)}")
        return value
    if isinstance(value, str) and len(value) <= _MAX_DURATION_CHARS:
        match = _DURATION.fullmatch(value)
        if match is not None:
            # Exact: 64 characters times 10**9 fit 100 digits (the default context has 28).
            amount = _EXACT.multiply(Decimal(match.group(1)), _UNITS[match.group(2) or "ns"])
            if amount > MAX_TS_NS:
                raise ValueError(
                    f"expected {_DUR} of at most {MAX_TS_NS} ns, got {json_type_name(value)}"
                )
            if amount == amount.to_integral_value():
                return int(amount)
    raise ValueError(f"expected {_DUR}, got {json_type_name(value)}")


def _check_str(value: object) -> object:
    if isinstance(value, str):
        return value
    raise _Bad(_STR)


def _check_dec(value: object) -> object:
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise _Bad(_DEC)


def _check_int(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _Bad(_INT)


def _check_pos(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise _Bad(_POS)


def _check_bool(value: object) -> object:
    if isinstance(value, bool):
        return value
    raise _Bad(_BOOL)


def _check_dur(value: object) -> object:
    try:
        return parse_duration(value)
    except ValueError:
        raise _Bad(_DUR) from None


# op -> (struct, required fields, {field: checker}); field order is the documented order.
_SPECS: dict[str, tuple[type[Op], frozenset[str], dict[str, Callable[[object], object]]]] = {
    "define": (
        DefineOp,
        frozenset({"symbol"}),
        {
            "symbol": _check_str,
            "tick_size": _check_dec,
            "lot_size": _check_dec,
            "min_qty": _check_dec,
            "max_qty": _check_dec,
            "price_band_pct": _check_dec,
            "reference_price": _check_dec,
            "symbol_id": _check_pos,
        },
    ),
    "new": (
        NewOp,
        frozenset({"symbol", "side", "qty"}),
        {
            "symbol": _check_str,
            "side": _check_str,
            "qty": _check_dec,
            "price": _check_dec,
            "type": _check_str,
            "tif": _check_str,
            "id": _check_int,
            "account": _check_int,
            "stop_price": _check_dec,
            "display_qty": _check_dec,
            "post_only": _check_bool,
            "stp": _check_str,
            "expire_at": _check_int,
            "expire_in": _check_dur,
            "protection_price": _check_dec,
        },
    ),
    "cancel": (
        CancelOp,
        frozenset({"symbol", "id"}),
        {"symbol": _check_str, "id": _check_int, "account": _check_int},
    ),
    "modify": (
        ModifyOp,
        frozenset({"symbol", "id"}),
        {
            "symbol": _check_str,
            "id": _check_int,
            "price": _check_dec,
            "qty": _check_dec,
            "account": _check_int,
        },
    ),
    "replace": (
        ReplaceOp,
        frozenset({"symbol", "id", "price", "qty"}),
        {
            "symbol": _check_str,
            "id": _check_int,
            "new_id": _check_int,
            "price": _check_dec,
            "qty": _check_dec,
            "account": _check_int,
        },
    ),
    "mass_cancel": (
        MassCancelOp,
        frozenset(),
        {"symbol": _check_str, "account": _check_int},
    ),
    "halt": (HaltOp, frozenset({"symbol"}), {"symbol": _check_str}),
    "resume": (ResumeOp, frozenset({"symbol"}), {"symbol": _check_str}),
    "end_session": (EndSessionOp, frozenset(), {"symbol": _check_str}),
    "advance": (AdvanceOp, frozenset(), {"by": _check_dur, "to": _check_dur}),
    "depth": (DepthOp, frozenset(), {"symbol": _check_str, "levels": _check_pos}),
    "status": (StatusOp, frozenset(), {"symbol": _check_str}),
}

OP_NAMES: tuple[str, ...] = tuple(_SPECS)
"""Every op name, in documentation order."""

_OP_LIST = ", ".join(OP_NAMES)
_decode = msgspec.json.Decoder().decode


_BOM = "\ufeff"
_BOM_BYTES = b"\xef\xbb\xbf"


def parse_line(text: str | bytes, line: int) -> Op | None:
    """Parse one scenario line; return ``None`` for a blank line or a ``#`` comment.

    A UTF-8 byte order mark at the start of line 1 (the start of the file, as some editors
    write it) is skipped; one anywhere else is an error that says so. A line nested too
    deeply for the decoder (``[[[[...``) is an error like any malformed line. Raises
    ``ScenarioError`` (with ``line``) when the line is malformed; values it quotes are cut
    to about 80 characters.
    """
    if isinstance(text, bytes):
        if line == 1 and text.startswith(_BOM_BYTES):
            text = text[len(_BOM_BYTES) :]
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ScenarioError(line, f"invalid UTF-8: {exc}") from None
    elif line == 1 and text.startswith(_BOM):
        text = text[len(_BOM) :]
    stripped = text.strip()
    if not stripped or stripped.startswith("#"):
        return None
    if _BOM in stripped:
        raise ScenarioError(
            line,
            "a UTF-8 byte order mark (U+FEFF) is only allowed at the start of the file"
            f" (column {text.index(_BOM) + 1}); remove it (files joined with cat keep them)",
        )
    try:
        obj: Any = _decode(stripped)
    except msgspec.DecodeError as exc:
        raise ScenarioError(line, f"invalid JSON: {cut(str(exc))}") from None
    except RecursionError:
        raise ScenarioError(
            line, "invalid JSON: nested too deeply (arrays or objects inside each other)"
        ) from None
    if not isinstance(obj, dict):
        raise ScenarioError(line, f"expected a JSON object, got {json_type_name(obj)}")
    return parse_object(obj, line)


def parse_object(obj: dict[str, Any], line: int) -> Op:
    """Turn one decoded JSON object into an op (see ``parse_line``)."""
    if "op" not in obj:
        raise ScenarioError(line, f'missing field "op" (expected one of: {_OP_LIST})')
    name = obj["op"]
    if not isinstance(name, str):
        raise ScenarioError(line, f'field "op": expected {_STR}, got {json_type_name(name)}')
    spec = _SPECS.get(name)
    if spec is None:
        raise ScenarioError(line, f"unknown op {_quote(name)} (expected one of: {_OP_LIST})")
    cls, required, fields = spec
    missing = [f for f in fields if f in required and obj.get(f) is None]
    if missing:
        what = ", ".join(f'"{f}"' for f in missing)
        seen = "null" if any(f in obj for f in missing) else "nothing"
        raise ScenarioError(
            line, f'op "{name}": missing field{"s" if len(missing) > 1 else ""} {what} (got {seen})'
        )
    kwargs: dict[str, object] = {}
    for key, value in obj.items():
        if key == "op":
            continue
        check = fields.get(key)
        if check is None:
            raise ScenarioError(
                line,
                f'op "{name}": unknown field {_quote(key)} (expected one of: {", ".join(fields)})',
            )
        if value is None:
            continue  # null means "absent" for an optional field
        try:
            kwargs[key] = check(value)
        except _Bad as bad:
            raise ScenarioError(
                line,
                f'op "{name}", field "{key}": expected {bad.expected}, got {json_type_name(value)}',
            ) from None
    if cls is AdvanceOp and ("by" in kwargs) == ("to" in kwargs):
        raise ScenarioError(
            line,
            'op "advance": expected exactly one of "by" and "to", got '
            + ("both" if kwargs else "neither"),
        )
    if cls is NewOp and "expire_at" in kwargs and "expire_in" in kwargs:
        raise ScenarioError(
            line, 'op "new": expected at most one of "expire_at" and "expire_in", got both'
        )
    return cls(line=line, **kwargs)  # type: ignore[arg-type]
