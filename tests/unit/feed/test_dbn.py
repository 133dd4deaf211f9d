"""Databento MBO: DBN (plain, zstd, gzip) and CSV files built with databento-dbn itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

import databento_dbn as dbn
import pytest
from test_dbn_files import (  # tests/unit/feed is on sys.path under pytest
    AAPL,
    LAST,
    MSFT,
    PX,
    T0,
    dbn_bytes,
    mbo,
    metadata,
    scenario,
    transcode,
    write_csv,
    write_dbn,
)

import whistle.feed
from whistle.book.mbo import MarketByOrderBook
from whistle.core.mbo import (
    FLAG_LAST,
    FLAG_SNAPSHOT,
    PRIORITY_KEEP_ON_DECREASE,
    SIDE_NONE,
    STATUS_OTHER,
    TRADE_INFO,
    MboAdd,
    MboCancel,
    MboClear,
    MboInstrument,
    MboModify,
    MboStatus,
    MboTrade,
)
from whistle.feed.dbn import DbnCsvDecoder, DbnDecoder
from whistle.feed.errors import FeedError, FeedFormatError, TruncatedFileError

if TYPE_CHECKING:
    from pathlib import Path

BUY, SELL = 1, 2
SNAP = FLAG_SNAPSHOT | 8  # F_SNAPSHOT | F_BAD_TS_RECV


def _events(path: Path, fmt: str = "dbn", **kw: object) -> list[object]:
    return list(whistle.feed.open(path, format=fmt, **kw))


def test_flag_values_are_databentos():
    assert dbn.F_LAST == FLAG_LAST
    assert dbn.F_SNAPSHOT == FLAG_SNAPSHOT
    assert dbn.UNDEF_PRICE == (1 << 63) - 1


def test_every_action_becomes_the_documented_event(tmp_path: Path):
    events = _events(write_dbn(tmp_path / "s.dbn", scenario()))
    r = T0 + 7  # ts_recv of the records at ts offset 0
    assert events[:6] == [
        MboInstrument(AAPL, T0, r, 0, 0, "AAPL", 9),
        MboClear(AAPL, T0, r, 0, SNAP),
        MboAdd(AAPL, T0, r, 10, SNAP, 1, BUY, 100 * PX, 100),
        MboAdd(AAPL, T0, r, 11, SNAP, 2, BUY, 100 * PX, 200),
        MboAdd(AAPL, T0, r, 12, SNAP | LAST, 3, SELL, 100_050_000_000, 300),
        MboAdd(AAPL, T0 + 1000, r + 1000, 13, LAST, 4, BUY, 99_990_000_000, 50),
    ]
    m = events[6]
    assert m == MboModify(
        AAPL, T0 + 2000, r + 2000, 14, LAST, 2, 2, BUY, 100 * PX, 180, PRIORITY_KEEP_ON_DECREASE
    )
    t5 = T0 + 5000
    assert events[9:12] == [
        MboTrade(AAPL, t5, t5 + 7, 17, 0, 0, SELL, 100 * PX, 100, TRADE_INFO, True, 0),
        MboTrade(AAPL, t5, t5 + 7, 17, 0, 2, BUY, 100 * PX, 100, TRADE_INFO, False, 0),
        MboCancel(AAPL, t5, t5 + 7, 17, LAST, 2, 100, BUY, 100 * PX),
    ]
    t6 = T0 + 6000
    assert events[12] == MboTrade(
        AAPL, t6, t6 + 7, 18, LAST, 0, SIDE_NONE, 100_020_000_000, 10, TRADE_INFO, True, 0
    )
    t7 = T0 + 7000
    assert events[14] == MboStatus(AAPL, t7, t7 + 7, 19, LAST, STATUS_OTHER, "N")
    assert events[15] == MboInstrument(MSFT, T0 + 8000, T0 + 8007, 0, 0, "MSFT", 9)
    assert events[-1] == MboClear(AAPL, T0 + 9000, T0 + 9007, 21, LAST)
    assert len(events) == 18  # 16 records + one MboInstrument per instrument


def test_book_follows_priority_rules(tmp_path: Path):
    """The decrease keeps #2 ahead; the increase sends #1 back; the new price puts #4 last."""
    book = MarketByOrderBook(AAPL, policy="strict")
    queues = []
    for e in _events(write_dbn(tmp_path / "s.dbn", scenario())):
        if e.instrument_id != AAPL or isinstance(e, MboInstrument):
            continue
        book.apply(e)
        book.validate_internal_state()
        levels = book.level_orders(BUY)
        if e.flags & FLAG_LAST and levels:
            queues.append([(o.order_id, o.qty) for o in levels[0][1]])
    assert queues == [
        [(1, 100), (2, 200)],  # snapshot
        [(1, 100), (2, 200)],  # #4 joins 99.99
        [(1, 100), (2, 180)],  # smaller: keeps place
        [(2, 180), (1, 150)],  # larger: back of the queue
        [(2, 180), (1, 150), (4, 50)],  # new price: back of the new level
        [(2, 80), (1, 150), (4, 50)],  # T and F change nothing, the C takes 100
        [(2, 80), (1, 150), (4, 50)],  # side-N trade: nothing
        [(2, 80), (1, 150), (4, 50)],  # the ask leaves; N closes the event
    ]
    assert book.anomaly_count == 0
    assert len(book) == 0  # the final R cleared it


@pytest.mark.parametrize("how", ["zstd", "gzip"])
def test_compressed_files_decode_the_same(tmp_path: Path, how: str):
    plain = _events(write_dbn(tmp_path / "s.dbn", scenario()))
    assert _events(write_dbn(tmp_path / f"s.{how}", scenario(), how=how)) == plain


@pytest.mark.parametrize("pretty", [True, False], ids=["pretty", "raw"])
def test_databento_csv_export_decodes_like_dbn(tmp_path: Path, pretty: bool):
    plain = _events(write_dbn(tmp_path / "s.dbn", scenario()))
    path = write_csv(tmp_path / "s.csv", scenario(), pretty=pretty)
    assert _events(path, "dbn-csv") == plain


def test_stats_count_actions_and_symbols(tmp_path: Path):
    for path, fmt in (
        (write_dbn(tmp_path / "s.dbn", scenario()), "dbn"),
        (write_csv(tmp_path / "s.csv", scenario()), "dbn-csv"),
    ):
        stats = whistle.feed.open(path, format=fmt).scan()
        assert stats.messages == 16
        assert stats.by_type == {"A": 5, "C": 2, "M": 3, "R": 2, "T": 2, "F": 1, "N": 1}
        aapl = stats.symbols["AAPL"].as_dict()
        assert (aapl["adds"], aapl["cancels"], aapl["modifies"]) == (4, 2, 3)
        assert (aapl["executions"], aapl["trades"]) == (1, 2)
        assert stats.symbols["MSFT"].adds == 1


def test_symbol_filter_skips_other_instruments(tmp_path: Path):
    path = write_dbn(tmp_path / "s.dbn", scenario())
    reader = whistle.feed.open(path, format="dbn", symbols=["MSFT"])
    events = list(reader)
    assert [type(e) for e in events] == [MboInstrument, MboAdd]
    assert {e.instrument_id for e in events} == {MSFT}
    assert reader.stats.messages == 16  # every record is still counted
    assert set(reader.stats.symbols) == {"MSFT"}
    by_id = _events(path, symbols=[str(MSFT)])
    assert by_id == events


def test_unmapped_instrument_is_named_by_its_id(tmp_path: Path):
    path = tmp_path / "u.dbn"
    path.write_bytes(dbn_bytes([mbo("A", "B", PX, 1, 1, ts=0, iid=77)], metadata(symbols={})))
    assert _events(path)[0] == MboInstrument(77, T0, T0 + 7, 0, 0, "77", 9)


# -- bad input ------------------------------------------------------------------------
def test_another_schema_is_refused(tmp_path: Path):
    for schema in (dbn.Schema.MBP_1, dbn.Schema.TRADES, dbn.Schema.MBP_10):
        path = tmp_path / "x.dbn"
        path.write_bytes(bytes(metadata(schema=schema)))
        with pytest.raises(FeedFormatError, match=r"x\.dbn: byte offset 0: DBN schema is"):
            _events(path)


def test_a_foreign_record_in_a_mixed_stream_is_refused(tmp_path: Path):
    trade = dbn.TradeMsg(
        publisher_id=1, instrument_id=AAPL, ts_event=T0, price=PX, size=1,
        action=dbn.Action.TRADE, side=dbn.Side.NONE, ts_recv=T0, depth=0,
    )  # fmt: skip
    path = tmp_path / "mixed.dbn"
    rec = mbo("A", "B", PX, 1, 1, ts=0)
    path.write_bytes(bytes(metadata(schema=None)) + bytes(rec) + bytes(trade))
    at = len(bytes(metadata(schema=None))) + 56
    with pytest.raises(
        FeedFormatError, match=rf"mixed\.dbn: byte offset {at}: record type 0x00 \(TradeMsg\)"
    ):
        _events(path)


def test_truncated_record_names_its_offset(tmp_path: Path):
    data = dbn_bytes(scenario())
    cut = len(data) - 20
    path = tmp_path / "cut.dbn"
    path.write_bytes(data[:cut])
    start = len(data) - 56  # the last record starts here
    with pytest.raises(TruncatedFileError, match=rf"cut\.dbn: byte offset {start}: .*56 bytes"):
        _events(path)


def test_truncated_metadata(tmp_path: Path):
    path = tmp_path / "head.dbn"
    path.write_bytes(dbn_bytes([])[:30])
    with pytest.raises(FeedFormatError, match=r"head\.dbn"):
        _events(path)


def test_truncated_zstd_frame(tmp_path: Path):
    data = transcode(dbn_bytes(scenario() * 50), dbn.Encoding.DBN, dbn.Compression.ZSTD)
    path = tmp_path / "cut.dbn.zst"
    path.write_bytes(data[: len(data) - 9])
    with pytest.raises(TruncatedFileError, match=r"cut\.dbn\.zst: byte offset \d+: truncated zstd"):
        _events(path)


def test_corrupt_record_type_names_its_offset(tmp_path: Path):
    data = bytearray(dbn_bytes(scenario()))
    bad = len(data) - 3 * 56
    data[bad + 1] = 0x77
    path = tmp_path / "bad.dbn"
    path.write_bytes(bytes(data))
    with pytest.raises(FeedFormatError, match=rf"bad\.dbn: byte offset {bad}: record type 0x77"):
        _events(path)


def test_not_a_dbn_file(tmp_path: Path):
    path = tmp_path / "x.dbn"
    path.write_bytes(b"hello, this is text\n")
    with pytest.raises(FeedFormatError, match=r"x\.dbn: byte offset 0: not a DBN file"):
        _events(path)
    with pytest.raises(FeedError, match="cannot open"):
        _events(tmp_path / "missing.dbn")


def test_top_of_book_records_are_refused_or_counted(tmp_path: Path):
    path = write_dbn(tmp_path / "tob.dbn", [mbo("A", "B", PX, 5, 0, LAST | dbn.F_TOB, ts=0)])
    with pytest.raises(FeedFormatError, match=r"tob\.dbn: record 0: a top-of-book"):
        _events(path)
    reader = DbnDecoder(path, policy="lenient")
    assert [type(e) for e in reader] == [MboInstrument]
    assert reader.stats.anomalies == {"top_of_book": 1}


def test_csv_missing_columns(tmp_path: Path):
    path = tmp_path / "m.csv"
    path.write_text("ts_event,action,side,price,order_id\n1,A,B,1.0,1\n")
    with pytest.raises(
        FeedFormatError, match=r"m\.csv: line 1: missing column\(s\) size, flags, instrument_id"
    ):
        _events(path, "dbn-csv")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("action", "action 'X' is not one of"),
        ("side", "side 'Q' is not one of"),
        ("price", "price '1.0000000001' has more than 9 decimals"),
        ("short", "3 fields, the header has"),
    ],
)
def test_csv_bad_value_names_the_line(tmp_path: Path, value: str, message: str):
    path = write_csv(tmp_path / "b.csv", scenario()[:3])
    lines = path.read_text().splitlines()
    fields = lines[3].split(",")
    cols = lines[0].split(",")
    if value == "action":
        fields[cols.index("action")] = "X"
    elif value == "side":
        fields[cols.index("side")] = "Q"
    elif value == "price":
        fields[cols.index("price")] = "1.0000000001"
    else:
        fields = fields[:3]
    lines[3] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(FeedFormatError, match=rf"b\.csv: line 4: {message}"):
        _events(path, "dbn-csv")


def test_csv_given_a_dbn_file(tmp_path: Path):
    path = write_dbn(tmp_path / "s.dbn", scenario())
    with pytest.raises(FeedFormatError, match="a DBN file, not CSV"):
        list(DbnCsvDecoder(path))


def test_csv_with_symbol_column_only(tmp_path: Path):
    path = tmp_path / "s.csv"
    path.write_text(
        "ts_event,symbol,action,side,price,size,order_id,flags\n"
        "5,ESZ3,A,B,4500.25,3,11,128\n"
        "6,ESZ3,C,B,4500.25,3,11,128\n"
    )
    events = _events(path, "dbn-csv")
    assert events == [
        MboInstrument(1, 5, 0, 0, 0, "ESZ3", 9),
        MboAdd(1, 5, 0, 0, LAST, 11, BUY, 4_500_250_000_000, 3),
        MboCancel(1, 6, 0, 0, LAST, 11, 3, BUY, 4_500_250_000_000),
    ]


@pytest.mark.parametrize("version", [1, 2, 3])
def test_every_dbn_version_decodes_alike(tmp_path: Path, version: int):
    """DBN v1 and v2 metadata (upgraded by databento-dbn) give the same events as v3."""
    meta = dbn.Metadata(
        dataset="XNAS.ITCH",
        start=T0,
        stype_in=dbn.SType.RAW_SYMBOL,
        stype_out=dbn.SType.INSTRUMENT_ID,
        schema=dbn.Schema.MBO,
        symbols=["AAPL"],
        mappings=[],
        version=version,
    )
    path = tmp_path / f"v{version}.dbn"
    path.write_bytes(dbn_bytes(scenario(), meta))
    reference = tmp_path / "ref.dbn"
    reference.write_bytes(dbn_bytes(scenario(), metadata(symbols={})))
    assert _events(path) == _events(reference)


# -- hostile DBN: damaged record headers (review of issue 9) ----------------------------
def _hostile(records: int = 300) -> tuple[bytearray, int]:
    """A valid plain DBN file of ``records`` MBO records, and where its records start."""
    meta_len = len(bytes(metadata()))
    data = bytearray(dbn_bytes((scenario() * (records // len(scenario()) + 1))[:records]))
    assert (len(data) - meta_len) % 56 == 0
    return data, meta_len


@pytest.mark.parametrize(
    ("xor", "announced"),
    [(0x40, 312), (0x04, 40), (0x0E, 0), (0x01, 60)],
)
def test_a_flipped_record_length_names_the_record(tmp_path: Path, xor: int, announced: int):
    """One flipped bit in a record's length byte: a FeedFormatError naming the file and the
    record's byte offset, never databento-dbn's Rust panic (a BaseException)."""
    data, start = _hostile()
    bad = start + 56 * 200
    data[bad] ^= xor
    path = tmp_path / "flip.dbn"
    path.write_bytes(bytes(data))
    for run in (_events, lambda p: DbnDecoder(p).scan()):
        with pytest.raises(FeedFormatError) as info:
            run(path)
        assert str(info.value).startswith(
            f"{path}: byte offset {bad}: malformed MBO record header: it announces {announced}"
            " bytes, an MBO record has 56"
        )
        assert (info.value.path, info.value.offset) == (str(path), bad)


def test_a_flipped_bit_across_chunk_boundaries(tmp_path: Path):
    """More records than one read chunk (1 MiB): offsets stay right after the first chunk."""
    data, start = _hostile(40_000)
    bad = start + 56 * 30_000  # in the second chunk
    data[bad + 1] ^= 0x40  # rtype 0xa0 -> 0xe0
    path = tmp_path / "big.dbn"
    path.write_bytes(bytes(data))
    with pytest.raises(FeedFormatError, match=rf"byte offset {bad}: record type 0xe0 is not MBO"):
        DbnDecoder(path).scan()
    data[bad + 1] ^= 0x40
    path.write_bytes(bytes(data))
    assert DbnDecoder(path).scan().messages == 40_000


def test_a_short_symbol_mapping_record_is_named(tmp_path: Path):
    """A record type an MBO stream may carry, shorter than its type (databento-dbn panics)."""
    data, start = _hostile(10)
    bad = start + 56 * 4
    short = bytes([40 // 4, 0x16]) + bytes(38)  # a SymbolMappingMsg header, 40 bytes
    path = tmp_path / "sm.dbn"
    path.write_bytes(bytes(data[:bad]) + short + bytes(data[bad:]))
    with pytest.raises(
        FeedFormatError,
        match=rf"sm\.dbn: byte offset {bad}: malformed SymbolMappingMsg record header: it"
        r" announces 40 bytes, expected at least 176",
    ):
        _events(path)


def _zstd_raw(data: bytes) -> bytes:
    """``data`` as one zstd frame of raw (stored) blocks: compressed bytes that the
    decoder inflates without our seeing them, and that databento-dbn's encoder would
    never write (it decodes what it encodes)."""
    out = bytearray(b"\x28\xb5\x2f\xfd\x00\x38")  # magic, no FCS/checksum, 2**17 window
    step = 1 << 16
    for i in range(0, len(data), step):
        block = data[i : i + step]
        last = i + step >= len(data)
        out += ((len(block) << 3) | int(last)).to_bytes(3, "little") + block
    return bytes(out)


def test_a_malformed_record_in_a_zstd_stream_is_an_error_not_a_panic(tmp_path: Path):
    data, start = _hostile(300)
    good = tmp_path / "ok.dbn.zst"
    good.write_bytes(_zstd_raw(bytes(data)))
    assert DbnDecoder(good).scan().messages == 300  # the hand-made frame itself is fine
    data[start + 56 * 100] ^= 0x04  # MBO record announcing 40 bytes
    path = tmp_path / "flip.dbn.zst"
    path.write_bytes(_zstd_raw(bytes(data)))
    with pytest.raises(FeedFormatError, match=r"flip\.dbn\.zst: \d+ bytes into the records of"):
        _events(path)


def test_an_interrupt_inside_databento_dbn_is_not_swallowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Only databento-dbn's panic is translated; KeyboardInterrupt / SystemExit pass."""
    path = write_dbn(tmp_path / "s.dbn", scenario())
    for exc in (KeyboardInterrupt, SystemExit):

        class Interrupted:
            def __init__(self, **_: object) -> None:
                pass

            def write_and_decode(self, _: bytes, exc: type[BaseException] = exc) -> list[object]:
                raise exc

        monkeypatch.setattr(dbn, "DBNDecoder", Interrupted)
        with pytest.raises(exc):
            _events(path)


def test_csv_empty_line_is_refused_or_counted(tmp_path: Path):
    records = scenario()
    text = write_csv(tmp_path / "ok.csv", records).read_text().splitlines(keepends=True)
    path = tmp_path / "blank.csv"
    path.write_text("".join(text[:5]) + "\n" + "".join(text[5:]))
    with pytest.raises(FeedFormatError, match=r"blank\.csv: line 6: an empty line"):
        _events(path, "dbn-csv")
    lenient = DbnCsvDecoder(path, policy="lenient")
    assert list(lenient) == _events(tmp_path / "ok.csv", "dbn-csv")
    assert lenient.stats.anomalies == {"empty_line": 1}


def test_a_flipped_record_length_in_a_gzip_file(tmp_path: Path):
    """gzip of plain DBN is framed the same; the offset is in the decompressed bytes."""
    import gzip

    data, start = _hostile()
    bad = start + 56 * 7
    data[bad] ^= 0x04
    path = tmp_path / "flip.dbn.gz"
    path.write_bytes(gzip.compress(bytes(data)))
    with pytest.raises(
        FeedFormatError,
        match=rf"flip\.dbn\.gz: byte offset {bad} \(of the decompressed stream\): malformed MBO",
    ):
        _events(path)


def test_a_truncated_gzip_file_names_how_far_it_decompressed(tmp_path: Path):
    """A cut gzip download: the offset is the decompressed bytes reached, not 0."""
    import gzip

    data, _ = _hostile(40_000)
    packed = gzip.compress(bytes(data), compresslevel=1)
    path = tmp_path / "cut.dbn.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(TruncatedFileError) as info:
        _events(path)
    text = str(info.value)
    assert "cut.dbn.gz: byte offset " in text
    assert "file ends inside its compressed stream" in text
    assert info.value.offset is not None
    assert 0 < info.value.offset < len(data)
