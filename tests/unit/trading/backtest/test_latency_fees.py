"""Latency models (constant, recorded file) and fees (ppm, half-even)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from whistle.trading.backtest import (
    ConstantLatency,
    FeeConfig,
    FeeModel,
    FeeRates,
    InterpolatedLatency,
    LatencyConfig,
    LatencyFileError,
    fee_tick_lots,
    latency_model,
    read_latency_file,
)
from whistle.trading.backtest.errors import BacktestConfigError

if TYPE_CHECKING:
    from pathlib import Path


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "lat.csv"
    path.write_text(text)
    return str(path)


def test_constant_model() -> None:
    m = latency_model(LatencyConfig(feed_ns=1, entry_ns=2, modify_ns=3, cancel_ns=4, ack_ns=5))
    assert isinstance(m, ConstantLatency)
    assert (m.feed(0), m.entry(9), m.modify(9), m.cancel(9), m.ack(9)) == (1, 2, 3, 4, 5)


def test_recorded_file_interpolates_and_falls_back_to_constants(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "# recorded at the gateway\n\nts_ns,entry_ns,ack_ns\n"
        "1000,100,10\n2000,300,10\n4000,301,50\n",
    )
    m = latency_model(LatencyConfig(file=path, feed_ns=7, cancel_ns=9))
    assert isinstance(m, InterpolatedLatency)
    assert m.columns == ["ack_ns", "entry_ns"]
    assert m.entry(0) == 100  # before the first row: its value
    assert m.entry(1000) == 100
    assert m.entry(1500) == 200
    assert m.entry(1999) == 299  # integer interpolation rounds down
    assert m.entry(3000) == 300
    assert m.entry(9999) == 301  # after the last row: its value
    assert m.entry(1500) == 200  # going back in time works too (the cursor re-seeks)
    assert m.ack(3000) == 30
    assert (m.feed(1500), m.cancel(1500), m.modify(1500)) == (7, 9, 0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no header"),
        ("# only comments\n", "no header"),
        ("time,entry_ns\n1,2\n", "must start with ts_ns"),
        ("ts_ns\n1\n", "names no latency column"),
        ("ts_ns,entry_ns,bogus\n", "unknown column 'bogus'"),
        ("ts_ns,entry_ns,entry_ns\n", "appears twice"),
        ("ts_ns,entry_ns\n", "no rows"),
        ("ts_ns,entry_ns\n1,2,3\n", "line 2: expected 2 values"),
        ("ts_ns,entry_ns\n1,-2\n", "line 2: entry_ns must be a non-negative integer"),
        ("ts_ns,entry_ns\n1,2.5\n", "entry_ns must be a non-negative integer"),
        ("ts_ns,entry_ns\n5,2\n5,3\n", "line 3: ts_ns must increase"),
        ("ts_ns,entry_ns\nx,2\n", "ts_ns must be a non-negative integer"),
        ("ts_ns,entry_ns\n1,99999999999999999999\n", "out of range"),
    ],
)
def test_bad_latency_files_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(LatencyFileError, match=message) as info:
        read_latency_file(path)
    assert info.value.path == path


def test_missing_latency_file(tmp_path: Path) -> None:
    with pytest.raises(LatencyFileError, match="cannot read"):
        latency_model(LatencyConfig(file=str(tmp_path / "none.csv")))
    with pytest.raises(BacktestConfigError, match="ack_ns"):
        latency_model(LatencyConfig(ack_ns=True))  # type: ignore[arg-type]


def test_fee_rounding_half_even_in_integers() -> None:
    assert fee_tick_lots(1_500_000, 1) == 2  # 1.5 -> 2
    assert fee_tick_lots(2_500_000, 1) == 2  # 2.5 -> 2
    assert fee_tick_lots(2_500_001, 1) == 3
    assert fee_tick_lots(-1_500_000, 1) == -2
    assert fee_tick_lots(-2_500_000, 1) == -2
    assert fee_tick_lots(10**30, 25) == 25 * 10**24  # no float anywhere
    assert fee_tick_lots(123, 0) == 0


def test_fee_model_per_symbol() -> None:
    cfg = FeeConfig(maker_ppm=-10, taker_ppm=30, per_symbol={"BOB": FeeRates(0, 50)})
    assert FeeModel.from_config(cfg, "BOB").taker(1000, 1000) == 50
    assert FeeModel.from_config(cfg, "AAPL").maker(1000, 1000) == -10
    with pytest.raises(ValueError, match="maker_ppm"):
        FeeModel(maker_ppm=2_000_000)
