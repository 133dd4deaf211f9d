"""ITCH 5.0 decoder: the RITCH sample file's known figures, every message type, bad input."""

from __future__ import annotations

import gzip
import struct
from collections import Counter
from pathlib import Path

import pytest

import whistle.feed
from whistle.book.mbo import MarketByOrderBook
from whistle.core.mbo import (
    FLAG_LAST,
    NO_PRICE,
    PRIORITY_LOSE,
    STATUS_CLOSE,
    STATUS_HALT,
    STATUS_OPEN,
    STATUS_OTHER,
    TRADE_CROSS,
    TRADE_HIDDEN,
    MboAdd,
    MboCancel,
    MboDelete,
    MboExecute,
    MboInstrument,
    MboModify,
    MboStatus,
    MboTrade,
)
from whistle.feed import FeedError, FeedFormatError, ItchDecoder, TruncatedFileError
from whistle.feed.itch import SPEC, frame_types

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
SAMPLE = DATA / "itch50-simulated" / "ex20101224.TEST_ITCH_50"
needs_sample = pytest.mark.skipif(not SAMPLE.exists(), reason=f"{SAMPLE} is absent")

# The data README's figures (from RITCH's own tests).
README_BY_TYPE = {
    "S": 6,
    "R": 3,
    "H": 3,
    "A": 4997,
    "F": 3,
    "E": 198,
    "X": 45,
    "D": 1745,
    "U": 12,
    "P": 5000,
}
README_ORDERS = {"ALC": 950, "BOB": 2482, "CHAR": 1568}
README_TRADES = {"ALC": 1885, "BOB": 1658, "CHAR": 1457}


def test_spec_lengths_are_the_specifications() -> None:
    # NASDAQ TotalView-ITCH 5.0, section 4: message lengths without the length prefix.
    assert SPEC == {
        "S": 12,
        "R": 39,
        "H": 25,
        "Y": 20,
        "L": 26,
        "V": 35,
        "W": 12,
        "K": 28,
        "J": 35,
        "h": 21,
        "A": 36,
        "F": 40,
        "E": 31,
        "C": 36,
        "X": 23,
        "D": 19,
        "U": 35,
        "P": 44,
        "Q": 40,
        "B": 19,
        "I": 50,
        "N": 20,
        "O": 48,
    }


# ----------------------------------------------------------------- the sample file


@needs_sample
def test_sample_counts_by_type_match_the_readme() -> None:
    stats = ItchDecoder(SAMPLE).scan()
    assert stats.messages == 12_012
    assert stats.by_type == README_BY_TYPE


@needs_sample
def test_sample_orders_and_trades_per_stock_match_the_readme() -> None:
    decoder = ItchDecoder(SAMPLE)
    adds = Counter[str]()
    sides = Counter[int]()
    trades = Counter[str]()
    for e in decoder:
        if isinstance(e, MboAdd):
            adds[decoder.locates[e.instrument_id]] += 1
            sides[e.side] += 1
        elif isinstance(e, MboTrade):
            trades[decoder.locates[e.instrument_id]] += 1
    assert dict(adds) == README_ORDERS
    assert dict(trades) == README_TRADES
    assert sides == {1: 2432, 2: 2568}
    symbols = decoder.stats.as_dict()["symbols"]
    assert isinstance(symbols, dict)
    assert {k: v["adds"] for k, v in symbols.items()} == README_ORDERS
    assert {k: v["trades"] for k, v in symbols.items()} == README_TRADES


@needs_sample
def test_sample_system_events_and_instruments() -> None:
    events = list(ItchDecoder(SAMPLE))
    system = [e for e in events if isinstance(e, MboStatus) and e.instrument_id == 0]
    assert [e.detail for e in system] == ["O", "S", "Q", "M", "E", "C"]
    assert [e.status for e in system] == [
        STATUS_OTHER,
        STATUS_OTHER,
        STATUS_OPEN,
        STATUS_CLOSE,
        STATUS_OTHER,
        STATUS_OTHER,
    ]
    named = [
        (e.instrument_id, e.symbol, e.price_decimals)
        for e in events
        if isinstance(e, MboInstrument)
    ]
    assert named == [(1, "ALC", 4), (2, "BOB", 4), (3, "CHAR", 4)]
    assert all(e.flags == FLAG_LAST for e in events)
    assert [e.sequence for e in events] == list(range(1, 12_013))


@needs_sample
def test_sample_zero_prefix_warning_is_reported_once_with_a_count() -> None:
    decoder = ItchDecoder(SAMPLE)
    for _ in decoder:
        pass
    assert len(decoder.stats.warnings) == 1
    warning = decoder.stats.warnings[0]
    assert "12012 of 12012 messages" in warning
    assert "first at byte offset 0" in warning
    assert str(SAMPLE) in warning
    assert decoder.length_prefix_mismatches == 12_012


@needs_sample
def test_sample_book_of_each_stock_validates_after_every_message() -> None:
    books: dict[int, MarketByOrderBook] = {}
    for e in ItchDecoder(SAMPLE):
        book = books.get(e.instrument_id)
        if book is None:
            book = books[e.instrument_id] = MarketByOrderBook(e.instrument_id)
        book.apply(e)
        book.validate_internal_state()
    # The simulated file is a sample of a day, not a whole one: it deletes, cancels and
    # executes orders it never added (unknown_order), and the executions it leaves out
    # leave each book crossed from early on (counted once per crossing, it never
    # uncrosses). Counted, not hidden; the first ones, by message number, are pinned.
    assert {i: b.anomalies for i, b in books.items() if i} == {
        1: {"crossed_book": 1, "unknown_order": 21},
        2: {"crossed_book": 1, "unknown_order": 41},
        3: {"crossed_book": 1, "unknown_order": 55},
    }
    assert books[2].anomaly_log[:2] == [
        (39, "crossed_book", "best bid 53833 >= best ask 53500"),
        (110, "unknown_order", "delete of order 1440692, not in the book"),
    ]
    assert [len(books[i]) for i in (1, 2, 3)] == [604, 1575, 1025]


@needs_sample
def test_symbol_filter_keeps_only_that_stock_and_system_events() -> None:
    every = [e for e in ItchDecoder(SAMPLE) if e.instrument_id in (0, 2)]
    decoder = whistle.feed.open(SAMPLE, format="itch", symbols=["BOB"])
    only = list(decoder)
    assert only == every
    assert sum(isinstance(e, MboAdd) for e in only) == 2482
    assert set(decoder.stats.symbols) == {"BOB"}
    assert decoder.stats.by_type == README_BY_TYPE  # every message is still counted


@needs_sample
def test_gzip_and_tiny_chunks_give_the_same_events(tmp_path: Path) -> None:
    expected = list(ItchDecoder(SAMPLE))
    packed = tmp_path / "sample.itch.gz"
    packed.write_bytes(gzip.compress(SAMPLE.read_bytes()))
    assert list(ItchDecoder(packed)) == expected
    assert list(ItchDecoder(SAMPLE, chunk_bytes=97)) == expected  # messages span chunks


@needs_sample
def test_records_decode_every_message_of_the_sample() -> None:
    records = list(ItchDecoder(SAMPLE).records())
    assert Counter(r.type for r in records) == README_BY_TYPE
    first_add = next(r for r in records if r.type == "A")
    assert first_add.fields == {
        "order_ref": 0,
        "side": "B",
        "shares": 1000,
        "stock": "BOB",
        "price": 53167,
    }
    assert first_add.stock_locate == 2
    assert frame_types(SAMPLE) == 12_012


# ----------------------------------------------------------------- hand-built messages


def _msg(kind: str, locate: int, ts: int, body: bytes, prefix: int | None = None) -> bytes:
    head = kind.encode() + struct.pack(">HHHI", locate, 7, ts >> 32, ts & 0xFFFFFFFF)
    message = head + body
    size = len(message) if prefix is None else prefix
    return struct.pack(">H", size) + message


STOCK = b"ZZZ     "
# One message of every type, with the layout written out from the specification.
EVERY_TYPE = {
    "S": struct.pack(">c", b"Q"),
    "R": STOCK
    + b"QN"
    + struct.pack(">I", 100)
    + b"NC"
    + b"Z "
    + b"PNN1N"
    + struct.pack(">I", 0)
    + b"N",
    "H": STOCK + b"H" + b" " + b"LUDP",
    "Y": STOCK + b"0",
    "L": b"VIRT" + STOCK + b"YNA",
    "V": struct.pack(">QQQ", 1, 2, 3),
    "W": b"1",
    "K": STOCK + struct.pack(">IcI", 34_200, b"A", 250_000),
    "J": STOCK + struct.pack(">IIII", 10, 11, 9, 1),
    "h": STOCK + b"QH",
    "A": struct.pack(">QcI", 5, b"S", 300) + STOCK + struct.pack(">I", 1_234_500),
    "F": struct.pack(">QcI", 6, b"B", 200) + STOCK + struct.pack(">I", 1_234_400) + b"VIRT",
    "E": struct.pack(">QIQ", 5, 100, 77),
    "C": struct.pack(">QIQcI", 5, 50, 78, b"N", 1_234_600),
    "X": struct.pack(">QI", 6, 20),
    "U": struct.pack(">QQII", 6, 9, 150, 1_234_300),
    "P": struct.pack(">QcI", 0, b"B", 40) + STOCK + struct.pack(">IQ", 1_234_550, 79),
    "Q": struct.pack(">Q", 1000) + STOCK + struct.pack(">IQc", 1_234_500, 80, b"O"),
    "B": struct.pack(">Q", 79),
    "I": struct.pack(">QQc", 500, 100, b"B") + STOCK + struct.pack(">IIIcc", 1, 2, 3, b"O", b"L"),
    "N": STOCK + b"B",
    "O": STOCK + b"Y" + struct.pack(">IIIQII", 1, 2, 3, 4, 5, 6),
    "D": struct.pack(">Q", 9),
}


def _every_type_file(path: Path, zero_prefix: bool = False) -> Path:
    out = b""
    for n, (kind, body) in enumerate(EVERY_TYPE.items(), 1):
        out += _msg(kind, 0 if kind in "SVW" else 3, 1000 * n, body, 0 if zero_prefix else None)
    path.write_bytes(out)
    return path


def test_every_message_type_is_framed_by_its_prefix_and_decoded(tmp_path: Path) -> None:
    path = _every_type_file(tmp_path / "all.itch")
    assert sorted(EVERY_TYPE) == sorted(SPEC)
    records = {r.type: r for r in ItchDecoder(path).records()}
    assert set(records) == set(SPEC)
    assert records["R"].fields["stock"] == "ZZZ"
    assert records["R"].fields["round_lot_size"] == 100
    assert records["H"].fields == {
        "stock": "ZZZ",
        "trading_state": "H",
        "reserved": "",
        "reason": "LUDP",
    }
    assert records["L"].fields["mpid"] == "VIRT"
    assert records["V"].fields == {"level_1": 1, "level_2": 2, "level_3": 3}
    assert records["K"].fields["ipo_price"] == 250_000
    assert records["J"].fields["auction_collar_extension"] == 1
    assert records["h"].fields == {
        "stock": "ZZZ",
        "market_code": "Q",
        "operational_halt_action": "H",
    }
    assert records["F"].fields["attribution"] == "VIRT"
    assert records["C"].fields["execution_price"] == 1_234_600
    assert records["Q"].fields["cross_type"] == "O"
    assert records["I"].fields["price_variation_indicator"] == "L"
    assert records["N"].fields["interest_flag"] == "B"
    assert records["O"].fields["upper_price_range_collar"] == 6
    assert records["D"].ts_ns == 1000 * len(EVERY_TYPE)
    assert all(r.tracking_number == 7 for r in records.values())

    decoder = ItchDecoder(path)
    events = list(decoder)
    assert decoder.stats.warnings == []  # every prefix is right
    assert decoder.stats.by_type == dict.fromkeys(SPEC, 1)
    assert [type(e) for e in events] == [
        MboStatus,  # S
        MboInstrument,  # R
        MboStatus,  # H
        MboAdd,
        MboAdd,
        MboExecute,
        MboExecute,
        MboCancel,
        MboModify,
        MboTrade,
        MboTrade,
        MboDelete,
    ]
    s, r, h, a, f, e, c, x, u, p, q, d = events
    assert isinstance(s, MboStatus)
    assert (s.instrument_id, s.status, s.detail) == (
        0,
        STATUS_OPEN,
        "Q",
    )
    assert r == MboInstrument(3, 2000, 0, 2, FLAG_LAST, "ZZZ", 4)
    assert isinstance(h, MboStatus)
    assert (h.status, h.detail) == (STATUS_HALT, "H LUDP")
    assert a == MboAdd(3, 11_000, 0, 11, FLAG_LAST, 5, 2, 1_234_500, 300)
    assert f == MboAdd(3, 12_000, 0, 12, FLAG_LAST, 6, 1, 1_234_400, 200)
    assert e == MboExecute(3, 13_000, 0, 13, FLAG_LAST, 5, 100, 0, NO_PRICE, True, 77)
    assert c == MboExecute(3, 14_000, 0, 14, FLAG_LAST, 5, 50, 0, 1_234_600, False, 78)
    assert x == MboCancel(3, 15_000, 0, 15, FLAG_LAST, 6, 20, 0, NO_PRICE)
    assert u == MboModify(3, 16_000, 0, 16, FLAG_LAST, 6, 9, 0, 1_234_300, 150, PRIORITY_LOSE)
    assert p == MboTrade(3, 17_000, 0, 17, FLAG_LAST, 0, 1, 1_234_550, 40, TRADE_HIDDEN, True, 79)
    assert q == MboTrade(3, 18_000, 0, 18, FLAG_LAST, 0, 0, 1_234_500, 1000, TRADE_CROSS, True, 80)
    assert d == MboDelete(3, 23_000, 0, 23, FLAG_LAST, 9, 0, NO_PRICE)
    book = MarketByOrderBook(3, policy="strict")
    for event in events:
        book.apply(event)
    book.validate_internal_state()
    assert book.depth() == ([], [(1_234_500, 150, 1)])  # 300 - 100 - 50 left of order 5


def test_zero_prefixes_frame_by_type_and_warn_once(tmp_path: Path) -> None:
    good = list(ItchDecoder(_every_type_file(tmp_path / "good.itch")))
    decoder = ItchDecoder(_every_type_file(tmp_path / "zero.itch", zero_prefix=True))
    assert list(decoder) == good
    assert len(decoder.stats.warnings) == 1
    assert f"for {len(SPEC)} of {len(SPEC)} messages" in decoder.stats.warnings[0]


def test_a_wrong_nonzero_prefix_is_framed_by_type_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "wrong.itch"
    body = EVERY_TYPE["D"]
    path.write_bytes(
        _msg("D", 3, 1, body) + _msg("D", 3, 2, body, prefix=40) + _msg("D", 3, 3, body)
    )
    decoder = ItchDecoder(path)
    assert [e.ts_ns for e in decoder] == [1, 2, 3]
    assert decoder.length_prefix_mismatches == 1
    assert "first at byte offset 21" in decoder.stats.warnings[0]


# ----------------------------------------------------------------- bad input


@needs_sample
def test_truncated_file_names_the_offset_after_yielding_what_was_whole(tmp_path: Path) -> None:
    path = tmp_path / "cut.itch"
    path.write_bytes(SAMPLE.read_bytes()[:1000])
    decoder = ItchDecoder(path)
    seen = []
    with pytest.raises(TruncatedFileError) as info:
        seen.extend(decoder)
    message = str(info.value)
    assert str(path) in message
    assert f"byte offset {info.value.offset}" in message
    assert "file ends inside a message" in message
    assert info.value.offset is not None
    assert 1000 - 50 < info.value.offset < 1000
    assert len(seen) == decoder.stats.messages > 0


@needs_sample
@pytest.mark.parametrize("cut", [50_000, 200])
def test_a_truncated_gzip_file_is_an_error_naming_the_offset(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "cut.itch.gz"
    path.write_bytes(gzip.compress(SAMPLE.read_bytes())[:cut])
    for run in (lambda: list(ItchDecoder(path)), lambda: ItchDecoder(path).scan()):
        with pytest.raises(TruncatedFileError) as info:
            run()
        assert str(info.value).startswith(f"{path}: byte offset ")
        assert "file ends inside its compressed stream" in str(info.value)
        assert info.value.offset is not None
    with pytest.raises(TruncatedFileError, match="compressed stream"):
        list(ItchDecoder(path).records())
    with pytest.raises(TruncatedFileError, match="compressed stream"):
        frame_types(path)


def test_unknown_type_with_zero_prefix_is_an_error_whatever_the_policy(tmp_path: Path) -> None:
    path = tmp_path / "unknown.itch"
    path.write_bytes(_msg("D", 3, 1, EVERY_TYPE["D"]) + b"\x00\x00Z" + b"\x00" * 30)
    for policy in ("strict", "lenient"):
        with pytest.raises(FeedFormatError) as info:
            list(ItchDecoder(path, policy=policy))
        assert str(info.value).startswith(
            f"{path}: byte offset 21: unknown ITCH 5.0 message type 'Z'"
        )
        assert "cannot be re-framed" in str(info.value)
        assert info.value.offset == 21


def test_unknown_type_with_a_prefix_is_skipped_and_counted_when_lenient(tmp_path: Path) -> None:
    path = tmp_path / "unknown.itch"
    odd = struct.pack(">H", 5) + b"z1234"
    path.write_bytes(_msg("D", 3, 1, EVERY_TYPE["D"]) + odd + _msg("D", 3, 2, EVERY_TYPE["D"]))
    with pytest.raises(
        FeedFormatError, match=r"byte offset 21: unknown ITCH 5\.0 message type 'z'"
    ):
        list(ItchDecoder(path))
    decoder = ItchDecoder(path, policy="lenient")
    assert [e.ts_ns for e in decoder] == [1, 2]
    assert decoder.stats.anomalies == {"unknown_type": 1}
    assert decoder.stats.by_type == {"D": 2, "z": 1}
    assert decoder.stats.anomaly_log == [
        f"{path}: byte offset 21: unknown ITCH 5.0 message type 'z' (0x7a), skipped 5 bytes"
        " by its length prefix"
    ]


def test_missing_file_and_bad_options_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FeedError, match="cannot open"):
        list(ItchDecoder(tmp_path / "nope.itch"))
    with pytest.raises(FeedError, match="policy must be 'strict' or 'lenient', not 'loose'"):
        ItchDecoder(tmp_path / "x", policy="loose")
    with pytest.raises(FeedError, match="unknown market-data format 'itch4'; expected one of"):
        whistle.feed.open(tmp_path / "x", format="itch4")
