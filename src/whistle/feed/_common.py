"""What every decoder shares: opening plain or gzip files, statistics, the policy check."""

from __future__ import annotations

import contextlib
import gzip
import os
import zlib
from typing import IO, TYPE_CHECKING, Final, cast

from whistle.feed.errors import FeedError, FeedFormatError, TruncatedFileError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = [
    "CHUNK_BYTES",
    "POLICIES",
    "FeedStats",
    "SymbolStats",
    "check_policy",
    "open_binary",
    "read_chunk",
    "read_lines",
    "wanted_symbols",
]

CHUNK_BYTES: Final = 1 << 20
"""Bytes read at a time by the binary decoders: memory stays bounded whatever the file."""
POLICIES: Final = ("strict", "lenient")
_GZIP_MAGIC: Final = b"\x1f\x8b"


def check_policy(policy: str) -> bool:
    """Return True for ``strict``; raise ``FeedError`` for anything but the two policies."""
    if policy not in POLICIES:
        raise FeedError(f"policy must be 'strict' or 'lenient', not {policy!r}")
    return policy == "strict"


def open_binary(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open ``path`` for reading bytes, through gzip when it starts with gzip's magic."""
    name = os.fspath(path)
    try:
        raw = open(name, "rb")  # noqa: SIM115 - the caller closes it
    except OSError as exc:
        raise FeedError(f"{name}: cannot open: {exc.strerror}", path=name) from None
    head = raw.read(2)
    if head == _GZIP_MAGIC:
        raw.close()
        return cast("IO[bytes]", gzip.open(name, "rb"))
    raw.seek(0)
    return raw


def _damaged(exc: BaseException, path: str, where: str) -> FeedFormatError:
    if isinstance(exc, EOFError):
        return TruncatedFileError(
            f"{path}: {where}: file ends inside its compressed stream ({exc})", path=path
        )
    return FeedFormatError(f"{path}: {where}: damaged compressed data ({exc})", path=path)


def read_chunk(f: IO[bytes], size: int, path: str, offset: int) -> bytes:
    """Read up to ``size`` bytes of ``f``; a truncated or damaged gzip stream is a
    ``TruncatedFileError`` / ``FeedFormatError`` naming ``path`` and the (decompressed)
    byte offset reached, not a bare ``EOFError`` / ``zlib.error``. ``offset`` is where this
    read starts; a gzip stream that fails inside the read names how far it decompressed
    (its ``tell()``), not the start of the read."""
    try:
        return f.read(size)
    except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
        with contextlib.suppress(OSError, ValueError, EOFError, zlib.error):
            offset = max(offset, f.tell())
        error = _damaged(exc, path, f"byte offset {offset} (decompressed)")
        error.offset = offset
        raise error from None


def read_lines(f: IO[bytes], path: str) -> Iterator[tuple[int, bytes]]:
    """Yield (1-based line number, line without its end of line) of ``f``, with the same
    errors as ``read_chunk`` naming the line."""
    line_no = 0
    it = iter(f)
    while True:
        try:
            raw = next(it)
        except StopIteration:
            return
        except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
            error = _damaged(exc, path, f"line {line_no + 1}")
            error.line = line_no + 1
            raise error from None
        line_no += 1
        yield line_no, raw.rstrip(b"\r\n")


class SymbolStats:
    """Per-symbol counts: orders added, executions (visible), trades (non-displayed /
    cross prints), cancels (partial), deletes, replaces / modifies."""

    __slots__ = ("adds", "cancels", "deletes", "executions", "modifies", "trades")

    def __init__(self) -> None:
        self.adds = 0
        self.executions = 0
        self.trades = 0
        self.cancels = 0
        self.deletes = 0
        self.modifies = 0

    def as_dict(self) -> dict[str, int]:
        """Return the counts by name."""
        return {name: getattr(self, name) for name in sorted(self.__slots__)}


class FeedStats:
    """What a decoder saw: messages in total and by type code, per-symbol counts,
    warnings (each reported once, with a count) and decoder anomalies (lenient policy)."""

    __slots__ = ("anomalies", "anomaly_log", "by_type", "messages", "symbols", "warnings")

    def __init__(self) -> None:
        self.messages = 0
        self.by_type: dict[str, int] = {}
        self.symbols: dict[str, SymbolStats] = {}
        self.warnings: list[str] = []
        self.anomalies: dict[str, int] = {}
        self.anomaly_log: list[str] = []

    def anomaly(self, kind: str, where: str, limit: int = 1000) -> None:
        """Count one decoder anomaly of ``kind``; keep the first ``limit`` descriptions."""
        self.anomalies[kind] = self.anomalies.get(kind, 0) + 1
        if len(self.anomaly_log) < limit:
            self.anomaly_log.append(where)

    def symbol(self, name: str) -> SymbolStats:
        """Return (creating) the counts of symbol ``name``."""
        s = self.symbols.get(name)
        if s is None:
            s = self.symbols[name] = SymbolStats()
        return s

    def as_dict(self) -> dict[str, object]:
        """Return a JSON-ready summary: ``messages``, ``by_type``, ``symbols``, ..."""
        return {
            "messages": self.messages,
            "by_type": dict(sorted(self.by_type.items())),
            "symbols": {k: v.as_dict() for k, v in sorted(self.symbols.items())},
            "warnings": list(self.warnings),
            "anomalies": dict(sorted(self.anomalies.items())),
        }


def wanted_symbols(symbols: Iterable[str] | None) -> frozenset[str] | None:
    """Return the symbol filter as a set (None: every symbol)."""
    if symbols is None:
        return None
    if isinstance(symbols, str):
        return frozenset([symbols])
    return frozenset(symbols)
