"""Strict checks for values that arrive from outside (Python callers, scenarios, the CLI).

Every entry point that turns a caller's value into a command field uses these helpers, so
the rules are the same everywhere (the write path rule: a command is validated completely
before it is sequenced, and nothing that could not be journaled and decoded again is
ever journaled):

- ``bool`` is not an int and a ``float`` is never an int or an id (``True``, ``1.0``);
- an enum value is a member, its exact int value, or its member NAME as an ASCII string
  (any case, no surrounding whitespace); nothing else;
- every int is inside the range ``whistle.core.limits`` documents for its field;
- messages say what was expected and what was seen, and a seen value is cut to about
  ``MAX_ECHO`` characters (a 100 MB string is never echoed, an int with thousands of
  digits is shown by its size).

The helpers return a problem (a message, or ``None`` when the value is fine) rather than
raising, because the callers decide what a refusal is: the venue turns it into an
``OrderRejected`` with a documented reason, an instrument into ``InstrumentError``.
``enum_member`` returns ``None`` for a refused value; ``enum_error`` says why.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final, TypeVar

__all__ = [
    "MAX_ECHO",
    "bool_field_error",
    "cut",
    "enum_error",
    "enum_member",
    "int_field_error",
    "is_int",
    "show",
]

MAX_ECHO: Final = 80
"""About how many characters of a caller's value a message echoes."""

_BIG_INT_BITS: Final = 128  # ints wider than this are shown by their size, not digits

E = TypeVar("E", bound=IntEnum)


def cut(text: str, limit: int = MAX_ECHO) -> str:
    """Return ``text``, or its first ``limit`` characters and how long it really was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} chars)"


def show(value: object, limit: int = MAX_ECHO) -> str:
    """Return a bounded ``repr`` of ``value`` for an error message.

    Strings and bytes are cut before ``repr`` (so a huge one costs nothing), a huge int
    is described by its bit length (its decimal form could be megabytes, and Python
    refuses to print one past 4,300 digits), anything else is ``repr`` cut to ``limit``.
    """
    if isinstance(value, (str, bytes)):
        if len(value) <= limit:
            return repr(value)
        unit = "chars" if isinstance(value, str) else "bytes"
        return f"{value[:limit]!r}... ({len(value):,} {unit})"
    if isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > _BIG_INT_BITS:
            return f"an int of {value.bit_length():,} bits"
        return repr(int(value)) if type(value) is int else repr(value)
    try:
        text = repr(value)
    except Exception:  # a hostile __repr__ must not hide the real error
        text = f"<{type(value).__name__} object>"
    return cut(text, limit)


def is_int(value: object) -> bool:
    """Return whether ``value`` is an int for a command field: an ``int``, not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def _kind_of(value: object) -> str:
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, float):
        return "a float"
    if value is None:
        return "None"
    if isinstance(value, int):
        return "an int"
    return f"a {type(value).__name__}"


def int_field_error(
    name: str, value: object, lo: int, hi: int, *, optional: bool = False
) -> str | None:
    """Return why ``value`` is not an int in ``lo..hi`` for field ``name``, or ``None``.

    A bool or a float is never an int (``True`` and ``1.0`` are refused); ``None`` is
    accepted only when ``optional``. The message says the expected range and what was
    seen (cut), e.g. ``"order_id must be an int in 1..9223372036854775807, was a bool
    (True)"``.
    """
    if type(value) is int or (isinstance(value, int) and not isinstance(value, bool)):
        if lo <= value <= hi:
            return None
        return f"{name} must be an int in {lo}..{hi}, was {show(value)}"
    if value is None and optional:
        return None
    expected = f"an int in {lo}..{hi}" + (" or None" if optional else "")
    if value is None:
        return f"{name} must be {expected}, was None"
    return f"{name} must be {expected}, was {_kind_of(value)} ({show(value)})"


def bool_field_error(name: str, value: object) -> str | None:
    """Return why ``value`` is not a bool for flag ``name``, or ``None`` (``1`` is no bool)."""
    if value is True or value is False:
        return None
    return f"{name} must be a bool (True or False), was {_kind_of(value)} ({show(value)})"


def enum_member(kind: type[E], value: object) -> E | None:
    """Return the member of ``kind`` that ``value`` names, or ``None`` if it names none.

    Accepted: a member of ``kind``; an ``int`` (not a bool, not a float, not a member of
    another enum) equal to a member's value; a ``str`` that is exactly a member's name in
    ASCII, in any case (``"buy"``, ``"BUY"``), with no surrounding whitespace. Refused:
    everything else, including ``True``, ``1.0``, ``" buy"``, full-width letters and members of
    other enums. Use ``enum_error`` for the message.
    """
    if type(value) is kind:
        return value  # exactly a member
    if type(value) is int:
        try:
            return kind(value)
        except ValueError:
            return None
    if type(value) is str:
        if not value.isascii() or len(value) > 64:
            return None
        return kind.__members__.get(value.upper())
    return None


def enum_error(kind: type[IntEnum], value: object) -> str:
    """Return the message for a value ``enum_member`` refused.

    ``"Side must be one of BUY, SELL, was 'up'"``; the seen value is cut.
    """
    names = ", ".join(m.name for m in kind)
    return f"{kind.__name__} must be one of {names}, was {show(value)}"
