"""NASDAQ TotalView-ITCH 5.0: a streaming decoder into ``whistle.core.mbo`` events.

A file is a sequence of messages, each a 2-byte big-endian length then the message (type
letter first). Every message type of the specification is known (``SPEC``: length and
field layout) and counted; ``ItchDecoder.records()`` decodes any of them into named
fields, and iterating the decoder yields the normalized events of those that concern the
book or trading state:

====  =======================================  ============================================
type  ITCH message                             event
====  =======================================  ============================================
S     system event                             ``MboStatus`` (Q: open, M: close; others
                                               ``STATUS_OTHER``), instrument 0 = all
R     stock directory                          ``MboInstrument`` (locate -> symbol, 4 dp)
H     stock trading action                     ``MboStatus`` (H halt, P pause, Q quotation
                                               only, T resume; detail = state + reason)
A, F  add order (without / with MPID)          ``MboAdd``
E     order executed                           ``MboExecute`` (at the order's price)
C     order executed with price                ``MboExecute`` (price, printable flag)
X     order cancel                             ``MboCancel``
D     order delete                             ``MboDelete``
U     order replace                            ``MboModify`` (new id, ``PRIORITY_LOSE``)
P     trade (non-cross)                        ``MboTrade(TRADE_HIDDEN)``
Q     cross trade                              ``MboTrade(TRADE_CROSS)``
====  =======================================  ============================================

Y (Reg SHO), L (market participant position), V / W (MWCB levels / breach), K (IPO quoting
period), J (LULD auction collar), h (operational halt), B (broken trade), I (NOII),
N (RPII) and O (direct listing price discovery) are counted, checked and available through
``records()``; they do not change an order book and yield no event.

Framing: by the length prefix when it equals the type's fixed length; when the prefix is
zero or disagrees (the RITCH sample file has all-zero prefixes), by the type's length,
counted, and reported as ONE warning in ``stats.warnings`` with the count and the first
byte offset. An unknown type is a ``FeedFormatError`` naming the byte offset; under
``policy="lenient"`` a message of unknown type with a non-zero prefix is skipped by its
prefix and counted as a decoder anomaly (``stats.anomalies["unknown_type"]``), but with a
zero prefix the stream cannot be re-framed and it is an error whatever the policy. A file
that ends inside a message is a ``TruncatedFileError``.

Event fields: ``instrument_id`` is the stock locate, ``ts_ns`` nanoseconds since
midnight, ``sequence`` the message's 1-based number in the file, ``flags`` ``FLAG_LAST``.
The symbol filter is applied on the locate code (learnt from R messages) before anything
is unpacked. The file is read in ``CHUNK_BYTES`` pieces: memory stays bounded.
"""

from __future__ import annotations

import os
import struct
from typing import TYPE_CHECKING, Final, final

import msgspec

from whistle.core.mbo import (
    FLAG_LAST,
    NO_PRICE,
    PRIORITY_LOSE,
    STATUS_CLOSE,
    STATUS_HALT,
    STATUS_OPEN,
    STATUS_OTHER,
    STATUS_PAUSE,
    STATUS_QUOTE_ONLY,
    STATUS_RESUME,
    TRADE_CROSS,
    TRADE_HIDDEN,
    MboAdd,
    MboCancel,
    MboDelete,
    MboEvent,
    MboExecute,
    MboInstrument,
    MboModify,
    MboStatus,
    MboTrade,
)
from whistle.feed._common import (
    CHUNK_BYTES,
    FeedStats,
    check_policy,
    open_binary,
    read_chunk,
    wanted_symbols,
)
from whistle.feed.errors import FeedFormatError, TruncatedFileError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = [
    "ITCH_PRICE_DECIMALS",
    "SPEC",
    "ItchDecoder",
    "ItchRecord",
    "frame_types",
]

ITCH_PRICE_DECIMALS: Final = 4

# Every ITCH 5.0 message after the common header (type, stock locate, tracking number,
# 6-byte timestamp = 11 bytes): field names and struct codes (big-endian; ``s`` fields
# are ASCII, right-padded with spaces). Prices have 4 implied decimals, except the MWCB
# levels (V) which have 8.
_BODY: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "S": (("event_code", "c"),),
    "R": (
        ("stock", "8s"),
        ("market_category", "c"),
        ("financial_status_indicator", "c"),
        ("round_lot_size", "I"),
        ("round_lots_only", "c"),
        ("issue_classification", "c"),
        ("issue_subtype", "2s"),
        ("authenticity", "c"),
        ("short_sale_threshold_indicator", "c"),
        ("ipo_flag", "c"),
        ("luld_reference_price_tier", "c"),
        ("etp_flag", "c"),
        ("etp_leverage_factor", "I"),
        ("inverse_indicator", "c"),
    ),
    "H": (("stock", "8s"), ("trading_state", "c"), ("reserved", "c"), ("reason", "4s")),
    "Y": (("stock", "8s"), ("reg_sho_action", "c")),
    "L": (
        ("mpid", "4s"),
        ("stock", "8s"),
        ("primary_market_maker", "c"),
        ("market_maker_mode", "c"),
        ("market_participant_state", "c"),
    ),
    "V": (("level_1", "Q"), ("level_2", "Q"), ("level_3", "Q")),
    "W": (("breached_level", "c"),),
    "K": (
        ("stock", "8s"),
        ("ipo_quotation_release_time", "I"),
        ("ipo_quotation_release_qualifier", "c"),
        ("ipo_price", "I"),
    ),
    "J": (
        ("stock", "8s"),
        ("auction_collar_reference_price", "I"),
        ("upper_auction_collar_price", "I"),
        ("lower_auction_collar_price", "I"),
        ("auction_collar_extension", "I"),
    ),
    "h": (("stock", "8s"), ("market_code", "c"), ("operational_halt_action", "c")),
    "A": (
        ("order_ref", "Q"),
        ("side", "c"),
        ("shares", "I"),
        ("stock", "8s"),
        ("price", "I"),
    ),
    "F": (
        ("order_ref", "Q"),
        ("side", "c"),
        ("shares", "I"),
        ("stock", "8s"),
        ("price", "I"),
        ("attribution", "4s"),
    ),
    "E": (("order_ref", "Q"), ("executed_shares", "I"), ("match_number", "Q")),
    "C": (
        ("order_ref", "Q"),
        ("executed_shares", "I"),
        ("match_number", "Q"),
        ("printable", "c"),
        ("execution_price", "I"),
    ),
    "X": (("order_ref", "Q"), ("cancelled_shares", "I")),
    "D": (("order_ref", "Q"),),
    "U": (
        ("original_order_ref", "Q"),
        ("new_order_ref", "Q"),
        ("shares", "I"),
        ("price", "I"),
    ),
    "P": (
        ("order_ref", "Q"),
        ("side", "c"),
        ("shares", "I"),
        ("stock", "8s"),
        ("price", "I"),
        ("match_number", "Q"),
    ),
    "Q": (
        ("shares", "Q"),
        ("stock", "8s"),
        ("cross_price", "I"),
        ("match_number", "Q"),
        ("cross_type", "c"),
    ),
    "B": (("match_number", "Q"),),
    "I": (
        ("paired_shares", "Q"),
        ("imbalance_shares", "Q"),
        ("imbalance_direction", "c"),
        ("stock", "8s"),
        ("far_price", "I"),
        ("near_price", "I"),
        ("current_reference_price", "I"),
        ("cross_type", "c"),
        ("price_variation_indicator", "c"),
    ),
    "N": (("stock", "8s"), ("interest_flag", "c")),
    "O": (
        ("stock", "8s"),
        ("open_eligibility_status", "c"),
        ("minimum_allowable_price", "I"),
        ("maximum_allowable_price", "I"),
        ("near_execution_price", "I"),
        ("near_execution_time", "Q"),
        ("lower_price_range_collar", "I"),
        ("upper_price_range_collar", "I"),
    ),
}
_HEADER: Final = struct.Struct(">cHHHI")  # type, locate, tracking, ts high 16, ts low 32
_RAW: Final[dict[str, tuple[struct.Struct, tuple[str, ...]]]] = {
    t: (struct.Struct(">" + "".join(c for _, c in f)), tuple(n for n, _ in f))
    for t, f in _BODY.items()
}

SPEC: Final[dict[str, int]] = {t: 11 + s.size for t, (s, _) in _RAW.items()}
"""Message length (without the 2-byte prefix) of every ITCH 5.0 message type."""

_LEN: Final[list[int]] = [0] * 256
for _t, _n in SPEC.items():
    _LEN[ord(_t)] = _n

# Hot-path structs: unpacked from the timestamp (message offset 5) on; fields the events
# do not need are skipped with pad bytes, so no bytes objects are built.
_A: Final = struct.Struct(">HIQBI8xI")  # ts hi, ts lo, ref, side, shares, price
_E: Final = struct.Struct(">HIQIQ")  # ts, ref, shares, match
_C: Final = struct.Struct(">HIQIQBI")  # ts, ref, shares, match, printable, price
_X: Final = struct.Struct(">HIQI")  # ts, ref, shares
_D: Final = struct.Struct(">HIQ")  # ts, ref
_U: Final = struct.Struct(">HIQQII")  # ts, old ref, new ref, shares, price
_P: Final = struct.Struct(">HIQBI8xIQ")  # ts, ref, side, shares, price, match
_Q: Final = struct.Struct(">HIQ8xIQ")  # ts, shares, price, match
_S: Final = struct.Struct(">HIc")  # ts, event code
_H: Final = struct.Struct(">HI8xcx4s")  # ts, state, reason
_R: Final = struct.Struct(">HI8s")  # ts, stock

# The event classes as Final names: compiled, a static load, not a module-dict lookup.
_ADD: Final = MboAdd
_DELETE: Final = MboDelete
_MODIFY: Final = MboModify
_CANCEL: Final = MboCancel
_EXECUTE: Final = MboExecute
_TRADE: Final = MboTrade
_INSTRUMENT: Final = MboInstrument
_STATUS: Final = MboStatus

_SYSTEM_STATUS: Final = {b"Q": STATUS_OPEN, b"M": STATUS_CLOSE}
_TRADING_STATUS: Final = {
    b"H": STATUS_HALT,
    b"P": STATUS_PAUSE,
    b"Q": STATUS_QUOTE_ONLY,
    b"T": STATUS_RESUME,
}
_N_LOCATES: Final = 1 << 16


@final
class ItchRecord(msgspec.Struct, frozen=True):
    """One ITCH message, fully decoded: ``fields`` by the specification's names (ASCII
    fields as ``str`` without padding, numbers as ``int``; prices in 1e-4)."""

    offset: int
    type: str
    stock_locate: int
    tracking_number: int
    ts_ns: int
    fields: dict[str, int | str]


@final
class _State:
    """Counters of one pass over a file (native fields when compiled)."""

    def __init__(self, path: str, strict: bool, build: bool) -> None:
        self.path = path
        self.strict = strict
        self.build = build
        self.base = 0  # file offset of the current chunk's byte 0
        self.msg_no = 0
        self.bad_prefix = 0
        self.first_bad = -1
        self.counts = [0] * 256
        self.unknown: dict[str, int] = {}
        self.unknown_log: list[str] = []
        self.names: dict[int, str] = {}
        self.want = [0] * _N_LOCATES  # 1: decode this locate's messages
        self.adds = [0] * _N_LOCATES
        self.execs = [0] * _N_LOCATES
        self.trades = [0] * _N_LOCATES
        self.cancels = [0] * _N_LOCATES
        self.deletes = [0] * _N_LOCATES
        self.modifies = [0] * _N_LOCATES
        self.filter: frozenset[str] | None = None


def _unknown_type(st: _State, buf: bytes, pos: int) -> int:
    # A type letter the spec does not have: the prefix to skip by (lenient, prefix > 0),
    # else raise. Returns -1 when the message is not all in ``buf`` yet.
    t = buf[pos + 2]
    prefix = (buf[pos] << 8) | buf[pos + 1]
    where = f"{st.path}: byte offset {st.base + pos}"
    shown = repr(chr(t)) if 32 < t < 127 else "?"
    seen = f"unknown ITCH 5.0 message type {shown} (0x{t:02x})"
    if prefix == 0 or st.strict:
        why = "; its length prefix is 0, so the stream cannot be re-framed" if prefix == 0 else ""
        raise FeedFormatError(
            f"{where}: {seen}; expected one of {''.join(sorted(SPEC))}{why}",
            path=st.path,
            offset=st.base + pos,
        )
    if pos + 2 + prefix > len(buf):
        return -1
    st.unknown[chr(t)] = st.unknown.get(chr(t), 0) + 1
    if len(st.unknown_log) < 1000:
        st.unknown_log.append(f"{where}: {seen}, skipped {prefix} bytes by its length prefix")
    return prefix


def _decode(st: _State, buf: bytes, out: list[MboEvent]) -> int:
    """Decode the whole messages of ``buf`` into ``out``; return the bytes consumed."""
    # Typed locals for the fields computed with or compared (compiled: C operations, not
    # generic ones); fields only passed on to an event stay objects (no unbox / rebox).
    th: int
    tl: int
    side: int
    printable: int
    lens = _LEN
    counts = st.counts
    want = st.want
    msg_no = st.msg_no
    bad = 0
    n = len(buf)
    pos = 0
    while pos + 3 <= n:
        t = buf[pos + 2]
        size = lens[t]
        if size == 0:
            skip = _unknown_type(st, buf, pos)
            if skip < 0:
                break
            msg_no += 1
            pos += 2 + skip
            continue
        end = pos + 2 + size
        if end > n:
            break
        if buf[pos + 1] != size or buf[pos] != 0:
            if st.first_bad < 0:
                st.first_bad = st.base + pos
            bad += 1
        msg_no += 1
        counts[t] = counts[t] + 1
        m = pos + 2
        loc = (buf[m + 1] << 8) | buf[m + 2]
        pos = end
        if t == 65 or t == 70:  # A, F
            st.adds[loc] = st.adds[loc] + 1
            if want[loc]:
                th, tl, ref, side, shares, price = _A.unpack_from(buf, m + 5)
                out.append(
                    _ADD(
                        loc,
                        (th << 32) | tl,
                        0,
                        msg_no,
                        FLAG_LAST,
                        ref,
                        1 if side == 66 else 2,
                        price,
                        shares,
                    )
                )
        elif t == 68:  # D
            st.deletes[loc] = st.deletes[loc] + 1
            if want[loc]:
                th, tl, ref = _D.unpack_from(buf, m + 5)
                out.append(_DELETE(loc, (th << 32) | tl, 0, msg_no, FLAG_LAST, ref, 0, NO_PRICE))
        elif t == 85:  # U
            st.modifies[loc] = st.modifies[loc] + 1
            if want[loc]:
                th, tl, ref, new, shares, price = _U.unpack_from(buf, m + 5)
                out.append(
                    _MODIFY(
                        loc,
                        (th << 32) | tl,
                        0,
                        msg_no,
                        FLAG_LAST,
                        ref,
                        new,
                        0,
                        price,
                        shares,
                        PRIORITY_LOSE,
                    )
                )
        elif t == 88:  # X
            st.cancels[loc] = st.cancels[loc] + 1
            if want[loc]:
                th, tl, ref, shares = _X.unpack_from(buf, m + 5)
                out.append(
                    _CANCEL(loc, (th << 32) | tl, 0, msg_no, FLAG_LAST, ref, shares, 0, NO_PRICE)
                )
        elif t == 69:  # E
            st.execs[loc] = st.execs[loc] + 1
            if want[loc]:
                th, tl, ref, shares, match = _E.unpack_from(buf, m + 5)
                out.append(
                    _EXECUTE(
                        loc,
                        (th << 32) | tl,
                        0,
                        msg_no,
                        FLAG_LAST,
                        ref,
                        shares,
                        0,
                        NO_PRICE,
                        True,
                        match,
                    )
                )
        elif t == 80:  # P
            st.trades[loc] = st.trades[loc] + 1
            if want[loc]:
                th, tl, ref, side, shares, price, match = _P.unpack_from(buf, m + 5)
                out.append(
                    _TRADE(
                        loc,
                        (th << 32) | tl,
                        0,
                        msg_no,
                        FLAG_LAST,
                        ref,
                        1 if side == 66 else 2,
                        price,
                        shares,
                        TRADE_HIDDEN,
                        True,
                        match,
                    )
                )
        elif t == 67:  # C
            st.execs[loc] = st.execs[loc] + 1
            if want[loc]:
                th, tl, ref, shares, match, printable, price = _C.unpack_from(buf, m + 5)
                out.append(
                    _EXECUTE(
                        loc,
                        (th << 32) | tl,
                        0,
                        msg_no,
                        FLAG_LAST,
                        ref,
                        shares,
                        0,
                        price,
                        printable == 89,
                        match,
                    )
                )
        elif t == 81:  # Q
            st.trades[loc] = st.trades[loc] + 1
            if want[loc]:
                th, tl, shares, price, match = _Q.unpack_from(buf, m + 5)
                out.append(
                    _TRADE(
                        loc,
                        (th << 32) | tl,
                        0,
                        msg_no,
                        FLAG_LAST,
                        0,
                        0,
                        price,
                        shares,
                        TRADE_CROSS,
                        True,
                        match,
                    )
                )
        elif t == 82:  # R
            th, tl, stock = _R.unpack_from(buf, m + 5)
            symbol = stock.decode("ascii", "replace").rstrip()
            st.names[loc] = symbol
            if st.build and (st.filter is None or symbol in st.filter):
                want[loc] = 1
                out.append(
                    _INSTRUMENT(
                        loc, (th << 32) | tl, 0, msg_no, FLAG_LAST, symbol, ITCH_PRICE_DECIMALS
                    )
                )
            elif st.filter is not None:
                want[loc] = 0
        elif t == 83:  # S
            if want[loc]:
                th, tl, code = _S.unpack_from(buf, m + 5)
                out.append(
                    _STATUS(
                        loc,
                        (th << 32) | tl,
                        0,
                        msg_no,
                        FLAG_LAST,
                        _SYSTEM_STATUS.get(code, STATUS_OTHER),
                        code.decode("ascii", "replace"),
                    )
                )
        elif t == 72 and want[loc]:  # H
            th, tl, state, reason = _H.unpack_from(buf, m + 5)
            detail = (state + b" " + reason).decode("ascii", "replace").rstrip()
            out.append(
                _STATUS(
                    loc,
                    (th << 32) | tl,
                    0,
                    msg_no,
                    FLAG_LAST,
                    _TRADING_STATUS.get(state, STATUS_OTHER),
                    detail,
                )
            )
    st.msg_no = msg_no
    st.bad_prefix += bad
    return pos


def _check_end(st: _State, rest: bytes) -> None:
    # Bytes left after the last whole message: the file is truncated.
    if not rest:
        return
    offset = st.base
    if len(rest) < 3:
        what = f"{len(rest)} byte(s), less than a length prefix and a type"
    else:
        t = rest[2]
        size = _LEN[t]
        if size == 0:
            _unknown_type(st, rest, 0)  # raises when it cannot be framed
            what = f"a message of unknown type 0x{t:02x} with {len(rest) - 2} bytes"
        else:
            what = f"a {chr(t)!r} message of {size} bytes with only {len(rest) - 2} left"
    raise TruncatedFileError(
        f"{st.path}: byte offset {offset}: file ends inside a message: {what}",
        path=st.path,
        offset=offset,
    )


@final
class ItchDecoder:
    """Streaming ITCH 5.0 decoder over a plain or gzip file (see the module docstring).

    Iterate it for events; ``stats`` is filled as it goes (final once exhausted);
    ``scan()`` counts without building events; ``records()`` decodes every message.
    """

    format_name: Final = "itch"

    def __init__(
        self,
        path: str | os.PathLike[str],
        symbols: Iterable[str] | None = None,
        policy: str = "strict",
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        if chunk_bytes < 64:
            raise ValueError(f"chunk_bytes must be at least 64, not {chunk_bytes}")
        self.path = os.fspath(path)
        self.chunk_bytes = chunk_bytes
        self.strict = check_policy(policy)
        self.filter = wanted_symbols(symbols)
        self.stats = FeedStats()
        self.locates: dict[int, str] = {}
        """Stock locate -> symbol, from the R messages seen so far."""

    def __iter__(self) -> Iterator[MboEvent]:
        return self._run(True)

    def scan(self) -> FeedStats:
        """Read the whole file counting messages (by type and per symbol); build nothing."""
        for _ in self._run(False):
            pass
        return self.stats

    def _run(self, build: bool) -> Iterator[MboEvent]:
        st = _State(self.path, self.strict, build)
        st.filter = self.filter
        if build:
            if self.filter is None:
                st.want = [1] * _N_LOCATES
            else:
                st.want[0] = 1  # system events (locate 0) concern every instrument
        self.locates = st.names
        out: list[MboEvent] = []
        f = open_binary(self.path)
        try:
            buf = b""
            while True:
                chunk = read_chunk(f, self.chunk_bytes, self.path, st.base + len(buf))
                if not chunk:
                    break
                buf = buf + chunk if buf else chunk
                used = _decode(st, buf, out)
                st.base += used
                buf = buf[used:]
                if out:
                    # An indexed loop, not ``yield from``: compiled, it is a native list
                    # walk (``yield from`` goes through the iterator protocol per item).
                    for event in out:  # noqa: UP028 - see above
                        yield event
                    out.clear()
                self.stats.messages = st.msg_no
            _check_end(st, buf)
        finally:
            f.close()
            self._publish(st)

    def _publish(self, st: _State) -> None:
        s = self.stats
        s.messages = st.msg_no
        counts = st.counts
        s.by_type = {chr(i): counts[i] for i in range(256) if counts[i]}
        for name, count in st.unknown.items():
            s.by_type[name] = count
        if st.unknown:
            s.anomalies["unknown_type"] = sum(st.unknown.values())
            s.anomaly_log = list(st.unknown_log)
        s.symbols = {}
        for loc in range(_N_LOCATES):
            a = st.adds[loc]
            e = st.execs[loc]
            tr = st.trades[loc]
            c = st.cancels[loc]
            d = st.deletes[loc]
            u = st.modifies[loc]
            if not (a or e or tr or c or d or u or loc in st.names):
                continue
            name = st.names.get(loc, f"locate {loc}")
            if self.filter is not None and name not in self.filter:
                continue
            sym = s.symbol(name)
            sym.adds, sym.executions, sym.trades = a, e, tr
            sym.cancels, sym.deletes, sym.modifies = c, d, u
        s.warnings = []
        if st.bad_prefix:
            s.warnings.append(
                f"{self.path}: the 2-byte length prefix was 0 or not the message type's"
                f" length for {st.bad_prefix} of {st.msg_no} messages (first at byte"
                f" offset {st.first_bad}); framed by the message type's length"
            )

    @property
    def length_prefix_mismatches(self) -> int:
        """Return how many messages so far were framed by type length, not prefix."""
        for w in self.stats.warnings:
            return int(w.split(" for ", 1)[1].split(" ", 1)[0])
        return 0

    def records(self) -> Iterator[ItchRecord]:
        """Yield every message fully decoded (slow; for inspection and tests)."""
        f = open_binary(self.path)
        try:
            base = 0
            buf = b""
            st = _State(self.path, self.strict, False)
            while True:
                chunk = read_chunk(f, self.chunk_bytes, self.path, base + len(buf))
                if not chunk:
                    break
                buf = buf + chunk if buf else chunk
                pos = 0
                n = len(buf)
                while pos + 3 <= n:
                    t = buf[pos + 2]
                    size = _LEN[t]
                    if size == 0:
                        st.base = base
                        skip = _unknown_type(st, buf, pos)
                        if skip < 0:
                            break
                        pos += 2 + skip
                        continue
                    if pos + 2 + size > n:
                        break
                    yield _record(buf, pos + 2, base + pos)
                    pos += 2 + size
                base += pos
                buf = buf[pos:]
            st.base = base
            _check_end(st, buf)
        finally:
            f.close()


def _record(buf: bytes, m: int, offset: int) -> ItchRecord:
    kind, locate, tracking, th, tl = _HEADER.unpack_from(buf, m)
    t = kind.decode("ascii")
    layout, names = _RAW[t]
    values = layout.unpack_from(buf, m + 11)
    fields: dict[str, int | str] = {}
    for name, value in zip(names, values, strict=True):
        fields[name] = (
            value.decode("ascii", "replace").rstrip() if isinstance(value, bytes) else value
        )
    return ItchRecord(offset, t, locate, tracking, (th << 32) | tl, fields)


def frame_types(path: str | os.PathLike[str]) -> int:
    """Frame every message of ``path`` reading only its type byte; return the count.

    The honest baseline of the decoder benchmark: the same reading and framing as the
    decoder (chunks, type-length table), no unpacking, no events.
    """
    lens = _LEN
    name = os.fspath(path)
    total = 0
    base = 0
    f = open_binary(name)
    try:
        buf = b""
        while True:
            chunk = read_chunk(f, CHUNK_BYTES, name, base + len(buf))
            if not chunk:
                break
            buf = buf + chunk if buf else chunk
            n = len(buf)
            pos = 0
            count = 0
            while pos + 3 <= n:
                size = lens[buf[pos + 2]]
                if size == 0:
                    size = (buf[pos] << 8) | buf[pos + 1]
                    if size == 0:
                        raise FeedFormatError(
                            f"{name}: byte offset {base + pos}: unknown ITCH 5.0 message type"
                            f" 0x{buf[pos + 2]:02x} with a zero length prefix",
                            path=name,
                            offset=base + pos,
                        )
                end = pos + 2 + size
                if end > n:
                    break
                pos = end
                count += 1
            total += count
            base += pos
            buf = buf[pos:]
    finally:
        f.close()
    return total
