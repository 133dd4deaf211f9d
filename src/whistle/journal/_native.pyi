"""Types of the optional C extension ``whistle.journal._native`` (see ``_native.c``)."""

from collections.abc import Callable
from typing import Any

def store_items(
    buf: Any,
    off: int,
    limit: int,
    items: list[Any] | tuple[Any, ...],
    start: int,
    seq: int,
    ts: int,
    last: int,
    /,
) -> tuple[int, int, int]: ...
def scan_records(
    buf: Any,
    off: int,
    limit: int,
    expect: int,
    skip: int,
    max_n: int,
    out: list[Any],
    make: Callable[..., Any] | None,
    seg_id: int,
    /,
) -> tuple[int, int]: ...
def crc32(data: Any, /) -> int: ...
