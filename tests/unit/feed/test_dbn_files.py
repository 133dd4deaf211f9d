"""Helpers (no tests): small DBN / Databento CSV files built with databento-dbn itself.

No network, no API key: ``Metadata`` and ``MBOMsg`` are databento-dbn's classes, bytes come
from their ``bytes()`` encoding, zstd and CSV from databento-dbn's ``Transcoder`` (the same
code Databento's export uses).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import io
from typing import TYPE_CHECKING

import databento_dbn as dbn

if TYPE_CHECKING:
    from pathlib import Path

SNAP = dbn.F_SNAPSHOT | dbn.F_BAD_TS_RECV
LAST = dbn.F_LAST
PX = 1_000_000_000  # one dollar in DBN's 1e-9 fixed point
T0 = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20Z
AAPL = 38
MSFT = 39


@dataclasses.dataclass
class _Interval:
    start_date: dt.date
    end_date: dt.date
    symbol: str


@dataclasses.dataclass
class _Mapping:
    raw_symbol: str
    intervals: list[_Interval]


def metadata(
    schema: dbn.Schema | None = dbn.Schema.MBO, symbols: dict[str, int] | None = None
) -> dbn.Metadata:
    symbols = {"AAPL": AAPL, "MSFT": MSFT} if symbols is None else symbols
    day = dt.date(2023, 11, 14)
    return dbn.Metadata(
        dataset="XNAS.ITCH",
        start=T0,
        end=T0 + 86_400 * 10**9,
        stype_in=dbn.SType.RAW_SYMBOL,
        stype_out=dbn.SType.INSTRUMENT_ID,
        schema=schema,
        symbols=list(symbols),
        mappings=[
            _Mapping(name, [_Interval(day, day + dt.timedelta(days=1), str(iid))])
            for name, iid in symbols.items()
        ],
    )


def mbo(
    action: str,
    side: str,
    price: int | None,
    size: int,
    order_id: int,
    flags: int = LAST,
    *,
    ts: int,
    iid: int = AAPL,
    seq: int = 0,
) -> dbn.MBOMsg:
    """An MBO record; ``price`` in DBN units (None: UNDEF_PRICE), ``ts`` ns after T0."""
    return dbn.MBOMsg(
        publisher_id=2,
        instrument_id=iid,
        ts_event=T0 + ts,
        order_id=order_id,
        price=dbn.UNDEF_PRICE if price is None else price,
        size=size,
        action=dbn.Action(action),
        side=dbn.Side(side),
        ts_recv=T0 + ts + 7,
        flags=flags,
        sequence=seq,
    )


def dbn_bytes(records: list[dbn.MBOMsg], meta: dbn.Metadata | None = None) -> bytes:
    return bytes(meta if meta is not None else metadata()) + b"".join(bytes(r) for r in records)


def transcode(
    data: bytes, encoding: dbn.Encoding, compression: dbn.Compression, **kw: bool
) -> bytes:
    out = io.BytesIO()
    coder = dbn.Transcoder(out, encoding, compression, **kw)
    coder.write(data)
    coder.finish()
    return out.getvalue()


def write_dbn(path: Path, records: list[dbn.MBOMsg], *, how: str = "plain") -> Path:
    """Write ``records`` as DBN: ``plain``, ``zstd`` (databento-dbn's encoder) or ``gzip``."""
    data = dbn_bytes(records)
    if how == "zstd":
        data = transcode(data, dbn.Encoding.DBN, dbn.Compression.ZSTD)
    elif how == "gzip":
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def write_csv(path: Path, records: list[dbn.MBOMsg], *, pretty: bool = True) -> Path:
    """Write ``records`` as Databento's MBO CSV (databento-dbn's CSV encoder)."""
    data = transcode(
        dbn_bytes(records),
        dbn.Encoding.CSV,
        dbn.Compression.NONE,
        pretty_px=pretty,
        pretty_ts=pretty,
    )
    path.write_bytes(data)
    return path


def scenario() -> list[dbn.MBOMsg]:
    """Every action, a snapshot, both modify priority rules, F_LAST batching, side-N trade.

    Book of AAPL after each F_LAST (bid queue at 100.00 in priority order):

    1-4   snapshot: R, A bid #1 100.00 x100, A bid #2 100.00 x200, A ask #3 100.05 x300
    5     A bid #4 99.99 x50                        bids 100.00 [#1 100, #2 200], 99.99 [#4 50]
    6     M #2 100.00 x180 (smaller: keeps place)   100.00 [#1 100, #2 180]
    7     M #1 100.00 x150 (larger: loses place)    100.00 [#2 180, #1 150]
    8     M #4 99.99 -> 100.00 x50 (new price)      100.00 [#2 180, #1 150, #4 50]
    9-11  one event: T sell aggressor 100.00 x100, F #2 x100, C #2 x100 (only C is LAST)
                                                    100.00 [#2 80, #1 150, #4 50]
    12    T side N 100.02 x10 (a hidden trade)      unchanged
    13-14 one event: C #3 x300 (the whole ask), N (LAST)     asks empty
    15    A ask #5 100.03 x70 for MSFT (another instrument)
    16    R (clear AAPL)                            empty
    """
    return [
        mbo("R", "N", None, 0, 0, SNAP, ts=0),
        mbo("A", "B", 100 * PX, 100, 1, SNAP, ts=0, seq=10),
        mbo("A", "B", 100 * PX, 200, 2, SNAP, ts=0, seq=11),
        mbo("A", "A", 100 * PX + PX // 20, 300, 3, SNAP | LAST, ts=0, seq=12),
        mbo("A", "B", 100 * PX - PX // 100, 50, 4, ts=1_000, seq=13),
        mbo("M", "B", 100 * PX, 180, 2, ts=2_000, seq=14),
        mbo("M", "B", 100 * PX, 150, 1, ts=3_000, seq=15),
        mbo("M", "B", 100 * PX, 50, 4, ts=4_000, seq=16),
        mbo("T", "A", 100 * PX, 100, 0, 0, ts=5_000, seq=17),
        mbo("F", "B", 100 * PX, 100, 2, 0, ts=5_000, seq=17),
        mbo("C", "B", 100 * PX, 100, 2, ts=5_000, seq=17),
        mbo("T", "N", 100 * PX + 2 * PX // 100, 10, 0, ts=6_000, seq=18),
        mbo("C", "A", 100 * PX + PX // 20, 300, 3, 0, ts=7_000, seq=19),
        mbo("N", "N", None, 0, 0, ts=7_000, seq=19),
        mbo("A", "A", 100 * PX + 3 * PX // 100, 70, 5, ts=8_000, iid=MSFT, seq=20),
        mbo("R", "N", None, 0, 0, ts=9_000, seq=21),
    ]
