"""Charts and the HTML page: valid deterministic PNGs, a self-contained escaped page."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from whistle.core.enums import Liquidity, Side
from whistle.trading.report import INDEX, ReportError, write_report
from whistle.trading.report.charts import (
    CHART_FILES,
    _reduce,
    fill_marks,
    render_charts,
    spread_captured_x2,
)
from whistle.trading.report.html import FILLS_CSV

sys.path.insert(0, str(Path(__file__).parent))
from report_results import Fill, Result, long_run, worked_example


@dataclasses.dataclass(frozen=True)
class MidFill(Fill):
    mid_x2: int = 0


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path, min_bytes: int = 5_000) -> bytes:
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC), path
    assert b"IEND" in data[-12:], path
    assert len(data) > min_bytes, (path, len(data))
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1000, 400), path
    return data


def test_spread_captured_is_exact_in_half_ticks():
    buy = Fill(1, 1, Side.BUY, 99, 1, Liquidity.MAKER, 0)
    sell = Fill(1, 2, Side.SELL, 98, 1, Liquidity.TAKER, 0)
    assert spread_captured_x2(buy, 200) == 2  # bought 1 tick under a mid of 100
    assert spread_captured_x2(buy, 197) == -1  # paid half a tick over a mid of 98.5
    assert spread_captured_x2(sell, 196) == 0
    assert spread_captured_x2(sell, 194) == 2


def test_fill_marks_use_the_fills_mid_else_the_last_sample_at_or_before():
    result = worked_example()
    with_mid = [MidFill(*dataclasses.astuple(f), mid_x2=777) for f in result.fills]
    assert [m for _, m in fill_marks(with_mid, result.timeline)] == [777, 777, 777]
    marks = [(f.client_order_id, m) for f, m in fill_marks(result.fills, result.timeline)]
    assert marks == [(1, 200), (2, 196), (3, 196)]  # t=5000 has no sample: t=4000's mid
    early = Fill(10, 9, Side.BUY, 1, 1, Liquidity.MAKER, 0)
    assert fill_marks([early], result.timeline)[0][1] == 0  # before the first sample


def test_reduce_keeps_extremes_and_the_last_point():
    n = 50_000
    xs = [float(i) for i in range(n)]
    ys = [float(i % 10) for i in range(n)]
    ys[31_337] = -1_000.0
    ys[7] = 1_000.0
    rx, ry = _reduce(xs, ys)
    assert len(rx) <= 4_001
    assert min(ry) == -1_000.0
    assert max(ry) == 1_000.0
    assert rx[-1] == xs[-1]
    assert rx == sorted(rx)
    small = ([0.0, 1.0], [3.0, 4.0])
    assert _reduce(*small) == small


def test_charts_are_valid_and_deterministic(tmp_path: Path):
    one, two = tmp_path / "a", tmp_path / "b"
    one.mkdir()
    two.mkdir()
    paths = render_charts(worked_example(), one)
    assert [p.name for p in paths] == list(CHART_FILES)
    for p in paths:
        data = assert_png(p)
        assert b"matplotlib" not in data  # no Software metadata
        assert (two / p.name).exists() is False
    again = render_charts(worked_example(), two)
    for a, b in zip(paths, again, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert not list(one.glob("*.tmp"))


def test_charts_of_an_empty_run_and_of_a_long_one(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "long").mkdir()
    for p in render_charts(Result(), tmp_path / "empty"):
        assert_png(p, min_bytes=2_000)
    for p in render_charts(long_run(), tmp_path / "long"):
        assert_png(p)


def test_write_report_writes_a_self_contained_page(tmp_path: Path):
    target = tmp_path / "deep" / "report"
    params = {"strategy": "evil:<script>alert(1)</script>", "latency": "entry=50us"}
    paths = write_report(worked_example(), target, parameters=params)
    assert [p.name for p in paths] == [INDEX, *CHART_FILES, FILLS_CSV]
    page = (target / INDEX).read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert page.count('src="data:image/png;base64,') == 4
    assert not re.search(r"""(src|href)=["']?(https?:|//|[^"'d])""", page)  # nothing external
    assert "<script>" not in page
    assert "evil:&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "entry=50us" in page
    assert "-0.19  (-19 tick-lots)" in page
    for p in paths[1:-1]:
        assert_png(p)
    assert (target / FILLS_CSV).read_text().splitlines() == [
        "ts_ns,client_order_id,side,price,qty,liquidity,fee,mid_x2",
        "2000,1,1,99,10,1,1,",
        "4000,2,2,98,10,2,2,",
        "5000,3,2,100,5,1,1,",
    ]


def test_write_report_overwrites_an_existing_report(tmp_path: Path):
    write_report(worked_example(), tmp_path)
    first = (tmp_path / INDEX).read_text()
    other = dataclasses.replace(worked_example(), fills=[])
    write_report(other, tmp_path)
    assert (tmp_path / INDEX).read_text() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([INDEX, *CHART_FILES, FILLS_CSV])


def test_write_report_refuses_a_file(tmp_path: Path):
    file = tmp_path / "report"
    file.write_text("keep me")
    with pytest.raises(ReportError, match="is not a directory"):
        write_report(worked_example(), file)
    assert file.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_importing_the_report_does_not_import_matplotlib():
    code = "import sys, whistle.trading.report; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
