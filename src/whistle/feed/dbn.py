"""Databento MBO: DBN files (plain, zstd or gzip) and Databento's CSV export -> MBO events.

DBN is read with ``databento-dbn``'s own :class:`~databento_dbn.DBNDecoder` (the official
decoder; nothing here parses DBN bytes). Each MBO record becomes one event of
:mod:`whistle.core.mbo`, with ``ts_ns = ts_event``, ``ts_recv_ns = ts_recv``, the record's
``sequence`` and ``flags`` (Databento's flag bits, which ``FLAG_*`` share):

======  ==================================================================================
action  event
======  ==================================================================================
``A``   ``MboAdd``
``C``   ``MboCancel`` (``size`` is the quantity cancelled; the whole rest deletes)
``M``   ``MboModify`` with ``PRIORITY_KEEP_ON_DECREASE``: a new price or a larger size
        goes to the back of the queue, a smaller size at the same price keeps its place
``R``   ``MboClear`` (an instrument's snapshot is ``R`` then ``A`` records flagged
        ``F_SNAPSHOT``)
``T``   ``MboTrade(kind=TRADE_INFO, printable=True)``: the aggressor's trade, ``side`` is
        the *aggressor's* side (or none); it does not change the book
``F``   ``MboTrade(kind=TRADE_INFO, printable=False)``: the resting order's fill, ``side``
        the resting order's; not a print (``T`` already counted the volume) and not a book
        change either -- Databento sends the book change as the ``C`` / ``M`` that follows
``N``   ``MboStatus(STATUS_OTHER, detail="N")``: no book change, but it may carry
        ``F_LAST`` and so close an event
======  ==================================================================================

Sides ``B`` / ``A`` / ``N`` are ``Side.BUY`` / ``Side.SELL`` / ``SIDE_NONE``. Prices stay in
Databento's 1e-9 fixed point (``price_decimals`` 9); ``UNDEF_PRICE`` is ``NO_PRICE``. The
book state is meant to be read only after a record with ``F_LAST`` (one exchange event
can be normalized into several records). Each instrument is named by an
``MboInstrument`` event before its first record: the symbol comes from the metadata's
symbology mappings (or a ``SymbolMappingMsg`` in a live-style stream), else the
instrument id as text.

Refused, with the file and the byte offset (DBN) or line (CSV): a file that is not DBN; a
DBN file of another schema (MBP-1, trades, ...); a record that is not MBO; a record header
whose length is not its type's (checked here before databento-dbn sees the bytes, since
databento-dbn *panics* on it -- a ``BaseException`` -- which is caught and named too, for
compressed files where the bytes are decompressed inside databento-dbn); a truncated
file (a partial record, or a zstd frame that stops early); top-of-book (``F_TOB``)
records, which describe levels, not orders; a CSV without the columns of Databento's MBO
export, or with a value that does not parse, or an empty line (lenient: counted as the
``empty_line`` anomaly).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import os
from typing import IO, TYPE_CHECKING, Any, Final, final

import databento_dbn as dbn

from whistle.core.enums import Side
from whistle.core.mbo import (
    FLAG_TOB,
    NO_PRICE,
    PRIORITY_KEEP_ON_DECREASE,
    SIDE_NONE,
    STATUS_OTHER,
    TRADE_INFO,
    MboAdd,
    MboCancel,
    MboClear,
    MboEvent,
    MboInstrument,
    MboModify,
    MboStatus,
    MboTrade,
)
from whistle.feed._common import FeedStats, check_policy, read_chunk, wanted_symbols
from whistle.feed.errors import FeedError, FeedFormatError, TruncatedFileError

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Iterator

__all__ = [
    "CSV_REQUIRED_COLUMNS",
    "DBN_PRICE_DECIMALS",
    "DbnCsvDecoder",
    "DbnDecoder",
]

DBN_PRICE_DECIMALS: Final = 9
CSV_REQUIRED_COLUMNS: Final = ("ts_event", "action", "side", "price", "size", "order_id", "flags")
"""Columns a Databento MBO CSV must have (plus ``instrument_id`` or ``symbol``)."""

_CHUNK: Final = 1 << 20
_MBO_RTYPE: Final = 0xA0
_BUY: Final = int(Side.BUY)
_SELL: Final = int(Side.SELL)
_ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
_GZIP_MAGIC: Final = b"\x1f\x8b"
_DBN_MAGIC: Final = b"DBN"
_ACTIONS: Final = "ACMRTFN"


# -- symbology ------------------------------------------------------------------------
class _Symbology:
    """instrument_id -> symbol from the metadata's mappings (date ranges respected)."""

    __slots__ = ("_by_id", "_fixed")

    def __init__(self) -> None:
        self._by_id: dict[int, list[tuple[dt.date, dt.date, str]]] = {}
        self._fixed: dict[int, str] = {}

    @classmethod
    def from_metadata(cls, metadata: dbn.Metadata) -> _Symbology:
        self = cls()
        out_is_id = _value(metadata.stype_out) == "instrument_id"
        for symbol, intervals in metadata.mappings.items():
            for interval in intervals:
                target = str(interval["symbol"])
                if out_is_id and target.isdigit():
                    iid, name = int(target), symbol
                elif symbol.isdigit():
                    iid, name = int(symbol), target
                else:
                    continue
                self._by_id.setdefault(iid, []).append(
                    (interval["start_date"], interval["end_date"], name)
                )
        for iid, spans in self._by_id.items():
            if len({name for _, _, name in spans}) == 1:
                self._fixed[iid] = spans[0][2]
        return self

    def add(self, instrument_id: int, symbol: str) -> None:
        self._fixed[instrument_id] = symbol
        self._by_id[instrument_id] = []

    def symbol(self, instrument_id: int, ts_ns: int) -> str:
        fixed = self._fixed.get(instrument_id)
        if fixed is not None:
            return fixed
        spans = self._by_id.get(instrument_id)
        if spans:
            day = dt.datetime.fromtimestamp(ts_ns / 1e9, tz=dt.UTC).date()
            for start, end, name in spans:
                if start <= day < end:
                    return name
            return spans[-1][2]
        return str(instrument_id)

    def ids_of(self, symbols: Collection[str]) -> set[int]:
        wanted = set(symbols)
        found = {iid for iid, name in self._fixed.items() if name in wanted}
        for iid, spans in self._by_id.items():
            if any(name in wanted for _, _, name in spans):
                found.add(iid)
        # a symbol given as a bare instrument id selects that id
        found.update(int(s) for s in wanted if s.isdigit())
        return found


# -- DBN ------------------------------------------------------------------------------
def _open_dbn(path: str) -> tuple[IO[bytes], Any, bool]:
    """Open ``path``; return (stream of DBN or zstd bytes, compression, gzip?)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise FeedError(f"{path}: cannot open: {exc.strerror}", path=path) from None
    gz = head.startswith(_GZIP_MAGIC)
    if gz:
        try:
            with gzip.open(path, "rb") as inner:
                head = inner.read(4)
        except (OSError, EOFError) as exc:
            raise FeedFormatError(
                f"{path}: byte offset 0: not a readable gzip file: {exc}", path=path, offset=0
            ) from None
    if head.startswith(_ZSTD_MAGIC):
        compression = dbn.Compression.ZSTD
        if not gz:
            _check_zstd_frames(path)
    elif head.startswith(_DBN_MAGIC):
        compression = dbn.Compression.NONE
    else:
        raise FeedFormatError(
            f"{path}: byte offset 0: not a DBN file (expected the magic 'DBN' or a zstd /"
            f" gzip frame, saw {head!r})",
            path=path,
            offset=0,
        )
    stream: IO[bytes] = gzip.open(path, "rb") if gz else open(path, "rb")  # type: ignore[assignment]  # noqa: SIM115
    return stream, compression, gz


def _check_zstd_frames(path: str) -> None:
    """Walk the zstd frame and block headers (no decompression): a frame that stops
    before its last block (a truncated download) is an error naming its offset.

    ``databento-dbn`` would otherwise return the records it could decompress and stop
    silently at the cut.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        off = 0
        while off < size:
            fh.seek(off)
            magic = fh.read(4)
            if len(magic) < 4:
                raise TruncatedFileError(f"{path}: byte offset {off}: truncated zstd frame header")
            number = int.from_bytes(magic, "little")
            if 0x184D2A50 <= number <= 0x184D2A5F:  # skippable frame
                skip = fh.read(4)
                if len(skip) < 4:
                    raise TruncatedFileError(f"{path}: byte offset {off}: truncated zstd frame")
                off += 8 + int.from_bytes(skip, "little")
                continue
            if magic != _ZSTD_MAGIC:
                raise FeedFormatError(
                    f"{path}: byte offset {off}: expected a zstd frame, saw {magic!r}"
                )
            descriptor = fh.read(1)
            if not descriptor:
                raise TruncatedFileError(f"{path}: byte offset {off}: truncated zstd frame header")
            fhd = descriptor[0]
            fcs_flag, single, checksum, dict_flag = (
                fhd >> 6,
                (fhd >> 5) & 1,
                (fhd >> 2) & 1,
                fhd & 3,
            )
            header = 1 + (0 if single else 1) + (0, 1, 2, 4)[dict_flag]
            header += (1 if single else 0, 2, 4, 8)[fcs_flag]
            off += 4 + header
            while True:
                fh.seek(off)
                block = fh.read(3)
                if len(block) < 3:
                    raise TruncatedFileError(
                        f"{path}: byte offset {off}: truncated zstd frame (file ends inside"
                        " a frame, before its last block)"
                    )
                word = int.from_bytes(block, "little")
                last, kind, length = word & 1, (word >> 1) & 3, word >> 3
                off += 3 + (1 if kind == 1 else length)
                if off > size:
                    raise TruncatedFileError(
                        f"{path}: byte offset {off - length}: truncated zstd block"
                        f" ({length} bytes announced, {size - off + length} left)"
                    )
                if last:
                    break
            off += 4 if checksum else 0
            if off > size:
                raise TruncatedFileError(f"{path}: byte offset {size}: truncated zstd checksum")


def _after_metadata(head: bytes) -> str:
    """Where a decoding error in the first bytes of a plain DBN stream lies: in the
    metadata, or in a record after it (the metadata's length is bytes 4..8)."""
    end = 8 + int.from_bytes(head[4:8], "little")
    if len(head) > end:
        try:
            dbn.Metadata.decode(head[:end])
        except dbn.DBNError:
            pass
        else:
            return _locate_bad_record(head[end:], end)
    return "byte offset 0: bad DBN metadata"


def _locate_bad_record(buf: bytes, base: int) -> str:
    """Describe the first record in ``buf`` (at file offset ``base``) that is not MBO."""
    off = 0
    while off + 2 <= len(buf):
        length = buf[off] * 4
        rtype = buf[off + 1]
        if length == 0:
            return f"byte offset {base + off}: record length 0"
        if rtype != _MBO_RTYPE:
            return f"byte offset {base + off}: record type 0x{rtype:02x} is not MBO (0xa0)"
        off += length
    return f"bytes {base}..{base + len(buf)}"


_MBO_LEN: Final = 56  # bytes of an MBO record in every DBN version
_HEADER_LEN: Final = 16
# rtypes an MBO stream may hold besides MBO, and their smallest length (DBN v1, v2+)
_OTHER_MIN_LEN: Final = {0x15: (80, 320), 0x16: (80, 176), 0x17: (80, 320)}
_RTYPE_NAMES: Final = {
    0x00: "TradeMsg", 0x01: "MBP1Msg", 0x0A: "MBP10Msg", 0x11: "StatusMsg",
    0x13: "InstrumentDefMsg", 0x14: "ImbalanceMsg", 0x15: "ErrorMsg",
    0x16: "SymbolMappingMsg", 0x17: "SystemMsg", 0x18: "StatMsg", 0x20: "OHLCVMsg",
    0x21: "OHLCVMsg", 0x22: "OHLCVMsg", 0x23: "OHLCVMsg", 0xB1: "CMBP1Msg",
    0xC0: "BBOMsg", 0xC1: "BBOMsg", 0xC2: "CBBOMsg", 0xC3: "CBBOMsg",
    0xC4: "TCBBOMsg",
}  # fmt: skip


def _frame(name: str, buf: bytes, pos: int, base: int, version: int, note: str) -> int:
    """Check the headers of the records in ``buf`` from index ``pos`` (file offset
    ``base + pos``); return the index where the last whole record ends.

    An MBO record must announce exactly 56 bytes; the few other records an MBO stream
    may carry (symbol mappings, system and error messages) at least their size in this
    DBN version; any other record type is refused. databento-dbn panics (a
    ``BaseException``) on a record shorter than its type, so this runs before it.
    ``note`` follows the offset in messages (an offset in a gzip file's decompressed bytes).
    """
    end = len(buf)
    k = (end - pos) // _MBO_LEN
    if k and buf[pos : pos + k * _MBO_LEN : _MBO_LEN] == b"\x0e" * k:  # the common case
        stop = pos + k * _MBO_LEN
        if buf[pos + 1 : stop : _MBO_LEN] == b"\xa0" * k:
            pos = stop
    while pos + 2 <= end:
        length = buf[pos] * 4
        rtype = buf[pos + 1]
        at = base + pos
        if rtype == _MBO_RTYPE:
            if length != _MBO_LEN:
                raise FeedFormatError(
                    f"{name}: byte offset {at}{note}: malformed MBO record header: it announces"
                    f" {length} bytes, an MBO record has {_MBO_LEN}",
                    path=name,
                    offset=at,
                )
        else:
            minimum = _OTHER_MIN_LEN.get(rtype)
            kind = _RTYPE_NAMES.get(rtype)
            if minimum is None:
                what = f" ({kind})" if kind else ""
                raise FeedFormatError(
                    f"{name}: byte offset {at}{note}: record type 0x{rtype:02x}{what} is not MBO"
                    " (0xa0); expected MBO records only",
                    path=name,
                    offset=at,
                )
            least = minimum[0] if version == 1 else minimum[1]
            if length < least:
                raise FeedFormatError(
                    f"{name}: byte offset {at}{note}: malformed {kind} record header: it announces"
                    f" {length} bytes, expected at least {least} (DBN v{version})",
                    path=name,
                    offset=at,
                )
        if pos + length > end:
            break
        pos += length
    return pos


def _is_panic(exc: BaseException) -> bool:
    """A Rust panic inside databento-dbn (``pyo3_runtime.PanicException``, a
    ``BaseException``): malformed input, not an interrupt."""
    kind = type(exc)
    return kind.__name__ == "PanicException" and kind.__module__ == "pyo3_runtime"


def _panic_text(exc: BaseException) -> str:
    return str(exc).split(". Confirm the DBN version", 1)[0]


def _locate_panic(meta: bytes, feed: bytes, start: int, meta_end: int) -> int:
    """The file offset of the record in ``feed`` (at offset ``start``, headers already
    checked by :func:`_frame`) that makes databento-dbn panic: decode them one by one with
    a fresh decoder. Only on the error path."""
    probe = dbn.DBNDecoder()
    probe.write_and_decode(meta)
    pos = max(meta_end - start, 0)
    while pos < len(feed):
        length = feed[pos] * 4
        try:
            probe.write_and_decode(feed[pos : pos + length])
        except BaseException as exc:
            if not _is_panic(exc) and not isinstance(exc, dbn.DBNError):
                raise
            return start + pos
        pos += length
    return start + max(meta_end - start, 0)


def _value(member: object) -> str:
    """The text of a databento-dbn enum member (its stubs type the members as ``str``)."""
    return str(getattr(member, "value", member))


class _Tally:
    """Counts per instrument id and action (index in ``_ACTIONS``), plus other records."""

    __slots__ = ("by_id", "other", "records")

    def __init__(self) -> None:
        self.by_id: dict[int, list[int]] = {}
        self.other: dict[str, int] = {}
        self.records = 0

    def row(self, iid: int) -> list[int]:
        counts = self.by_id.get(iid)
        if counts is None:
            counts = self.by_id[iid] = [0] * len(_ACTIONS)
        return counts

    def publish(
        self, stats: FeedStats, names: dict[int, str], wanted: frozenset[str] | None
    ) -> None:
        stats.messages = self.records + sum(self.other.values())
        by_type: dict[str, int] = dict(self.other)
        stats.symbols = {}
        for iid, counts in self.by_id.items():
            for letter, n in zip(_ACTIONS, counts, strict=True):
                if n:
                    by_type[letter] = by_type.get(letter, 0) + n
            name = names.get(iid, str(iid))
            if wanted is not None and name not in wanted and str(iid) not in wanted:
                continue
            sym = stats.symbol(name)
            a, c, m, _r, t, f, _n = counts
            sym.adds += a
            sym.cancels += c
            sym.modifies += m
            sym.executions += f
            sym.trades += t
        stats.by_type = by_type


_A, _C, _M, _R, _T, _F, _N = range(7)


class _DecoderBase:
    """What both Databento decoders share: the options, ``stats``, iteration and scan."""

    format_name: str = ""

    def __init__(
        self,
        path: str | os.PathLike[str],
        symbols: Iterable[str] | None = None,
        policy: str = "strict",
    ) -> None:
        self.path = os.fspath(path)
        self.strict = check_policy(policy)
        self.filter = wanted_symbols(symbols)
        self.stats = FeedStats()
        self.symbols_by_id: dict[int, str] = {}
        """Instrument id -> symbol of the instruments seen so far."""

    def __iter__(self) -> Iterator[MboEvent]:
        return self._run(True)

    def scan(self) -> FeedStats:
        """Read the whole file counting records (by action and per symbol); build nothing."""
        for _ in self._run(False):
            pass
        return self.stats

    def _run(self, build: bool) -> Iterator[MboEvent]:
        raise NotImplementedError


@final
class DbnDecoder(_DecoderBase):
    """Streaming decoder of a Databento MBO DBN file (plain, zstd or gzip).

    Iterate it for events (see the module docstring); ``stats`` is filled as it goes and
    final once exhausted: ``by_type`` counts records by action letter, ``symbols`` per
    symbol (adds A, cancels C, modifies M, executions F, trades T). ``scan()`` counts
    without building events. ``symbols`` keeps only those instruments (the metadata's
    symbols, or instrument ids given as digits); other instruments' records are counted
    and skipped before any event is built. ``policy="lenient"`` counts top-of-book
    records (``stats.anomalies["top_of_book"]``) and skips them instead of raising.
    """

    format_name = "dbn"

    def __init__(
        self,
        path: str | os.PathLike[str],
        symbols: Iterable[str] | None = None,
        policy: str = "strict",
    ) -> None:
        super().__init__(path, symbols, policy)
        self.metadata: dbn.Metadata | None = None
        """The file's DBN metadata, once read."""

    def _run(self, build: bool) -> Iterator[MboEvent]:
        name = self.path
        stream, compression, gz = _open_dbn(name)
        tally = _Tally()
        decoder = dbn.DBNDecoder(compression=compression)
        symbology: _Symbology | None = None
        wanted: set[int] | None = None
        names = self.symbols_by_id = {}
        fed = 0  # bytes read from the (decompressed, if gzip) stream
        plain = compression is dbn.Compression.NONE  # we see the DBN bytes themselves
        buf = b""  # plain: bytes read but not yet handed to the decoder, from ``base``
        base = 0
        meta_end = -1  # plain: where the metadata ends (the first record starts)
        meta_bytes = b""
        version = 0
        consumed = 0  # compressed: decompressed record bytes decoded so far
        at = 0
        note = " (of the decompressed stream)" if gz or not plain else ""
        add_a, cancel_c, modify_m = dbn.Action.ADD, dbn.Action.CANCEL, dbn.Action.MODIFY
        trade_t, fill_f, clear_r = dbn.Action.TRADE, dbn.Action.FILL, dbn.Action.CLEAR
        mbo_type = dbn.MBOMsg
        bid, ask, tob = dbn.Side.BID, dbn.Side.ASK, FLAG_TOB
        counts: list[int] = []
        n_rec = 0  # MBO records read (tally.records once the loop ends)
        last_iid = -1
        try:
            while True:
                chunk = read_chunk(stream, _CHUNK, name, fed) if gz else stream.read(_CHUNK)
                if not chunk:
                    break
                if plain:
                    # frame the records ourselves: only whole records whose header was
                    # checked reach databento-dbn (a bad header would make it panic)
                    buf += chunk
                    if meta_end < 0:
                        if len(buf) < 8:
                            continue
                        meta_end = 8 + int.from_bytes(buf[4:8], "little")
                        version = buf[3]
                    if base + len(buf) < meta_end:
                        continue
                    cut = _frame(name, buf, max(meta_end - base, 0), base, version, note)
                    feed, buf = buf[:cut], buf[cut:]
                    if base < meta_end:
                        meta_bytes = feed[: meta_end - base]
                    start, base = base, base + cut
                else:
                    feed, start = chunk, consumed
                try:
                    records = decoder.write_and_decode(feed)
                except dbn.DBNError as exc:
                    if not plain:
                        where = f"after byte {fed}{note}"
                    elif symbology is not None:
                        where = _locate_bad_record(feed, start) + note
                    else:
                        where = _after_metadata(feed)
                    raise FeedFormatError(f"{name}: {where}: {exc}", path=name) from None
                except BaseException as exc:
                    if not _is_panic(exc):
                        raise
                    if plain:
                        at = _locate_panic(meta_bytes, feed, start, meta_end)
                        where = f"byte offset {at}{note}"
                    else:
                        where = (
                            f"{consumed} bytes into the records of the decompressed stream"
                            " (the bad record starts there or soon after; a compressed file"
                            " has no file offset for it)"
                        )
                    raise FeedFormatError(
                        f"{name}: {where}: malformed DBN record: {_panic_text(exc)}",
                        path=name,
                        offset=at if plain else None,
                    ) from None
                fed += len(chunk)
                if not plain:
                    consumed += sum(
                        r.record_size() for r in records if not isinstance(r, dbn.Metadata)
                    )
                for rec in records:
                    if type(rec) is not mbo_type:
                        if isinstance(rec, dbn.Metadata):
                            symbology = _metadata(name, rec)
                            self.metadata = rec
                            if self.filter is not None:
                                wanted = symbology.ids_of(self.filter)
                            continue
                        kind = type(rec).__name__
                        tally.other[kind] = tally.other.get(kind, 0) + 1
                        if isinstance(rec, dbn.SymbolMappingMsg) and symbology is not None:
                            symbology.add(rec.instrument_id, rec.stype_out_symbol)
                            if self.filter is not None:
                                wanted = symbology.ids_of(self.filter)
                            continue
                        if isinstance(rec, (dbn.SystemMsg, dbn.ErrorMsg)):
                            continue
                        raise FeedFormatError(
                            f"{name}: record {n_rec}: a {kind} (rtype"
                            f" {rec.rtype}) in an MBO stream; expected MBOMsg only",
                            path=name,
                        )
                    assert symbology is not None  # the decoder yields the metadata first
                    n_rec += 1
                    iid = rec.instrument_id
                    if iid != last_iid:
                        counts = tally.row(iid)
                        last_iid = iid
                        if iid not in names:
                            names[iid] = symbology.symbol(iid, rec.ts_event)
                            if build and (wanted is None or iid in wanted):
                                yield MboInstrument(
                                    iid, rec.ts_event, rec.ts_recv, 0, 0, names[iid],
                                    DBN_PRICE_DECIMALS,
                                )  # fmt: skip
                    action = rec.action
                    if wanted is not None and iid not in wanted:
                        counts[_ACTIONS.index(_value(action))] += 1
                        continue
                    flags = rec.flags
                    if flags & tob:
                        if self.strict:
                            raise FeedFormatError(
                                f"{name}: record {n_rec - 1}: a top-of-book (F_TOB)"
                                " record describes a price level, not an order: not"
                                " order-level data",
                                path=name,
                            )
                        self.stats.anomaly("top_of_book", f"record {n_rec - 1}")
                        counts[_ACTIONS.index(_value(action))] += 1
                        continue
                    sd = rec.side
                    side = _BUY if sd is bid else _SELL if sd is ask else SIDE_NONE
                    if action is add_a:
                        counts[_A] += 1
                        if build:
                            yield MboAdd(
                                iid, rec.ts_event, rec.ts_recv, rec.sequence, flags,
                                rec.order_id, side, rec.price, rec.size,
                            )  # fmt: skip
                    elif action is cancel_c:
                        counts[_C] += 1
                        if build:
                            yield MboCancel(
                                iid, rec.ts_event, rec.ts_recv, rec.sequence, flags,
                                rec.order_id, rec.size, side, rec.price,
                            )  # fmt: skip
                    elif action is modify_m:
                        counts[_M] += 1
                        if build:
                            oid = rec.order_id
                            yield MboModify(
                                iid, rec.ts_event, rec.ts_recv, rec.sequence, flags, oid, oid,
                                side, rec.price, rec.size,
                                PRIORITY_KEEP_ON_DECREASE,
                            )  # fmt: skip
                    elif action is trade_t or action is fill_f:
                        is_trade = action is trade_t
                        counts[_T if is_trade else _F] += 1
                        if build:
                            yield MboTrade(
                                iid, rec.ts_event, rec.ts_recv, rec.sequence, flags,
                                rec.order_id, side, rec.price, rec.size,
                                TRADE_INFO, is_trade, 0,
                            )  # fmt: skip
                    elif action is clear_r:
                        counts[_R] += 1
                        if build:
                            yield MboClear(iid, rec.ts_event, rec.ts_recv, rec.sequence, flags)
                    else:
                        counts[_N] += 1
                        if build:
                            yield MboStatus(
                                iid, rec.ts_event, rec.ts_recv, rec.sequence, flags,
                                STATUS_OTHER, "N",
                            )  # fmt: skip
            if plain and buf:
                if base < meta_end or meta_end < 0:
                    raise TruncatedFileError(
                        f"{name}: byte offset {base + len(buf)}: file ends inside the DBN"
                        " metadata header",
                        path=name,
                        offset=base + len(buf),
                    )
                raise TruncatedFileError(
                    f"{name}: byte offset {base}{note}: file ends inside a record ({buf[0] * 4}"
                    f" bytes announced, {len(buf)} present)",
                    path=name,
                    offset=base,
                )
            if symbology is None:
                raise TruncatedFileError(
                    f"{name}: byte offset {fed}: file ends inside the DBN metadata header",
                    path=name,
                    offset=fed,
                )
        finally:
            stream.close()
            tally.records = n_rec
            tally.publish(self.stats, names, self.filter)


def _metadata(name: str, metadata: dbn.Metadata) -> _Symbology:
    schema = metadata.schema
    if schema is not None and schema != dbn.Schema.MBO:
        raise FeedFormatError(
            f"{name}: byte offset 0: DBN schema is {str(schema)!r}, expected 'mbo' (market"
            " by order); whistle builds books from order-level data only"
        )
    return _Symbology.from_metadata(metadata)


# -- CSV ------------------------------------------------------------------------------
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _parse_ts(text: str) -> int:
    """Nanoseconds since the epoch from an integer or an ISO 8601 UTC timestamp."""
    if text.isdigit():
        return int(text)
    body = text.rstrip("Z")
    frac = 0
    if "." in body:
        body, digits = body.split(".", 1)
        if not digits.isdigit() or len(digits) > 9:
            raise ValueError(f"bad fraction of a second {digits!r}")
        frac = int(digits.ljust(9, "0"))
    when = dt.datetime.fromisoformat(body)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + frac


def _parse_price(text: str) -> int:
    """1e-9 fixed point from an integer (raw) or a decimal string (``pretty_px``)."""
    if not text:
        return NO_PRICE
    if "." not in text:
        return int(text)
    whole, digits = text.split(".", 1)
    if len(digits) > 9 or not digits.isdigit():
        raise ValueError(f"price {text!r} has more than 9 decimals or is not a number")
    negative = whole.startswith("-")
    units = abs(int(whole or "0")) * 1_000_000_000 + int(digits.ljust(9, "0"))
    return -units if negative else units


def _open_text(path: str) -> IO[str]:
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise FeedError(f"{path}: cannot open: {exc.strerror}", path=path) from None
    if head.startswith(_GZIP_MAGIC):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    if head.startswith((_ZSTD_MAGIC, _DBN_MAGIC)):
        raise FeedFormatError(f"{path}: byte offset 0: a DBN file, not CSV (use --format dbn)")
    return open(path, encoding="utf-8", newline="")


@final
class DbnCsvDecoder(_DecoderBase):
    """Streaming decoder of Databento's MBO CSV export (plain or gzip).

    The header names the columns (any order, extra columns ignored); it must have
    :data:`CSV_REQUIRED_COLUMNS` and ``instrument_id`` or ``symbol``. Timestamps may be
    integers or ISO 8601 (``pretty_ts``), prices raw 1e-9 integers or decimal strings
    (``pretty_px``; an empty price is undefined). ``ts_recv`` and ``sequence`` are
    optional. ``symbols`` matches the ``symbol`` column (or instrument ids as digits).
    ``stats`` and ``scan()`` as for :class:`DbnDecoder`. An empty line is refused
    (``policy="lenient"``: counted as ``stats.anomalies["empty_line"]`` and skipped).
    """

    format_name = "dbn-csv"

    def _run(self, build: bool) -> Iterator[MboEvent]:
        name = self.path
        tally = _Tally()
        names = self.symbols_by_id = {}
        wanted = self.filter
        with _open_text(name) as fh:
            try:
                reader = csv.reader(fh)
                try:
                    header = next(reader)
                except StopIteration:
                    raise FeedFormatError(
                        f"{name}: line 1: empty file (expected Databento's MBO CSV header)",
                        path=name,
                        line=1,
                    ) from None
                except (csv.Error, UnicodeDecodeError) as exc:
                    raise FeedFormatError(
                        f"{name}: line 1: not CSV text: {exc}", path=name, line=1
                    ) from None
                yield from self._rows(reader, header, tally, names, wanted, build)
            finally:
                tally.publish(self.stats, names, wanted)

    def _rows(
        self,
        reader: Iterator[list[str]],
        header: list[str],
        tally: _Tally,
        names: dict[int, str],
        wanted: frozenset[str] | None,
        build: bool,
    ) -> Iterator[MboEvent]:
        name = self.path
        col = {field.strip(): i for i, field in enumerate(header)}
        missing = [c for c in CSV_REQUIRED_COLUMNS if c not in col]
        if "instrument_id" not in col and "symbol" not in col:
            missing.append("instrument_id or symbol")
        if missing:
            raise FeedFormatError(
                f"{name}: line 1: missing column(s) {', '.join(missing)} of Databento's MBO"
                f" CSV; the header has {', '.join(header) or 'nothing'}",
                path=name,
                line=1,
            )
        i_ts, i_act, i_side = col["ts_event"], col["action"], col["side"]
        i_px, i_sz, i_oid, i_fl = col["price"], col["size"], col["order_id"], col["flags"]
        i_iid, i_sym = col.get("instrument_id"), col.get("symbol")
        i_recv, i_seq = col.get("ts_recv"), col.get("sequence")
        width = len(header)
        ids_by_symbol: dict[str, int] = {}
        line = 1
        try:
            for row in reader:
                line += 1
                if not row:
                    if self.strict:
                        raise ValueError("an empty line (expected a record)")
                    self.stats.anomaly("empty_line", f"line {line}")
                    continue
                if len(row) < width:
                    raise ValueError(f"{len(row)} fields, the header has {width}")
                letter = row[i_act]
                code = _ACTIONS.find(letter) if len(letter) == 1 else -1
                if code < 0:
                    raise ValueError(f"action {letter!r} is not one of A C M R T F N")
                tally.records += 1
                symbol = row[i_sym] if i_sym is not None else ""
                if i_iid is not None and row[i_iid]:
                    iid = int(row[i_iid])
                else:
                    iid = ids_by_symbol.setdefault(symbol, len(ids_by_symbol) + 1)
                counts = tally.row(iid)
                counts[code] += 1
                first = iid not in names
                if first:
                    names[iid] = symbol or str(iid)
                if wanted is not None and names[iid] not in wanted and str(iid) not in wanted:
                    continue
                flags = int(row[i_fl])
                if flags & FLAG_TOB:
                    if self.strict:
                        raise ValueError("a top-of-book (F_TOB) record is not order-level data")
                    self.stats.anomaly("top_of_book", f"line {line}")
                    continue
                ts = _parse_ts(row[i_ts])
                recv = _parse_ts(row[i_recv]) if i_recv is not None and row[i_recv] else 0
                seq = int(row[i_seq]) if i_seq is not None and row[i_seq] else 0
                side_text = row[i_side]
                side = _CSV_SIDES.get(side_text, -1)
                if side < 0:
                    raise ValueError(f"side {side_text!r} is not one of A B N")
                price = _parse_price(row[i_px])
                size, oid = int(row[i_sz]), int(row[i_oid])
                if not build:
                    continue
                if first:
                    yield MboInstrument(iid, ts, recv, 0, 0, names[iid], DBN_PRICE_DECIMALS)
                yield _csv_event(letter, iid, ts, recv, seq, flags, oid, side, price, size)
        except ValueError as exc:
            raise FeedFormatError(f"{name}: line {line}: {exc}", path=name, line=line) from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise FeedFormatError(
                f"{name}: line {line}: not CSV text: {exc}", path=name, line=line
            ) from None


_CSV_SIDES: Final = {"B": _BUY, "A": _SELL, "N": SIDE_NONE}


def _csv_event(
    letter: str, iid: int, ts: int, recv: int, seq: int, flags: int, oid: int, side: int,
    price: int, size: int,
) -> MboEvent:  # fmt: skip
    if letter == "A":
        return MboAdd(iid, ts, recv, seq, flags, oid, side, price, size)
    if letter == "C":
        return MboCancel(iid, ts, recv, seq, flags, oid, size, side, price)
    if letter == "M":
        return MboModify(
            iid, ts, recv, seq, flags, oid, oid, side, price, size, PRIORITY_KEEP_ON_DECREASE
        )
    if letter in "TF":
        return MboTrade(
            iid, ts, recv, seq, flags, oid, side, price, size, TRADE_INFO, letter == "T", 0
        )
    if letter == "R":
        return MboClear(iid, ts, recv, seq, flags)
    return MboStatus(iid, ts, recv, seq, flags, STATUS_OTHER, "N")
