"""The live web view in a real headless Chromium: load the page, submit orders through the
backend, watch the ladder, the tape and the status change in the DOM, take a screenshot.

Skips only when Chromium/chromedriver are absent and ``WHISTLE_REQUIRE_BROWSER`` is unset
(CI sets it). ``WHISTLE_WRITE_DOCS_SCREENSHOT=1`` also copies the screenshot to
``docs/img/web-view.png`` (the README's picture).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from pathlib import Path

import pytest

from whistle.api.backend import LocalBackend
from whistle.api.marketdata import MarketDataHub, attach_backend
from whistle.api.web import start_web
from whistle.coord import Venue
from whistle.core.commands import NewOrder

CHROMIUM = os.environ.get("WHISTLE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("WHISTLE_CHROMEDRIVER", "/usr/bin/chromedriver")
DOCS_PNG = Path(__file__).resolve().parents[2] / "docs" / "img" / "web-view.png"
WAIT_S = 60  # a deadline for polling the DOM on a loaded machine, not a timing assertion

BUY, SELL = 1, 2


def _need_browser() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (Path(p).exists() or shutil.which(p))]
    if missing:
        if os.environ.get("WHISTLE_REQUIRE_BROWSER"):
            pytest.fail(f"WHISTLE_REQUIRE_BROWSER is set but {missing} not found")
        pytest.skip(f"no browser: {missing} not found (set WHISTLE_REQUIRE_BROWSER to fail)")


class Server:
    """Venue + LocalBackend + hub + web view on their own event loop in a thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="web-view-loop")
        self.thread.start()
        self.port, self.ids = self.call(self._start())

    def call(self, coro, timeout: float = WAIT_S):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self):
        self.venue = Venue()
        self.backend = LocalBackend(self.venue)
        ids = {s: self.venue.add_instrument(s).symbol_id for s in ("AAPL", "MSFT")}
        # A book before the page loads (the page must show it from its snapshot).
        await self.backend.execute(
            [NewOrder(ids["AAPL"], 0, 1, BUY, 1, 1, 18700 - 5 * i, 10 + i) for i in range(4)]
            + [NewOrder(ids["AAPL"], 0, 2, SELL, 1, 1, 18710 + 5 * i, 20 + i) for i in range(4)]
            + [NewOrder(ids["MSFT"], 0, 1, BUY, 1, 1, 41000, 7)]
        )
        self.hub = MarketDataHub()
        self.detach = await attach_backend(self.hub, self.backend)
        self.web = await start_web(self.hub, self.backend, port=0, status_interval_s=0.5)
        return self.web.port, ids

    def order(self, symbol: str, side: int, price_ticks: int, qty_lots: int, account: int = 1):
        cmd = NewOrder(self.ids[symbol], 0, account, side, 1, 1, price_ticks, qty_lots)
        return self.call(self.backend.execute([cmd]))

    def halt(self, symbol: str):
        return self.call(self.backend.halt(self.ids[symbol]))

    def close(self) -> None:
        async def stop():
            await self.web.close()
            self.detach()
            await self.backend.close()

        try:
            self.call(stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(WAIT_S)
            self.loop.close()


@pytest.fixture
def server():
    s = Server()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def browser(tmp_path):
    _need_browser()
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager download
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which(CHROMIUM) or CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,800",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    service = Service(executable_path=shutil.which(CHROMEDRIVER) or CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver, predicate, what: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S, poll_frequency=0.1).until(
        lambda d: predicate(d), message=f"waited {WAIT_S}s for {what}"
    )


# The page re-renders its tables on every change: read them in one script call (atomic in
# the page), never element by element (stale references).
def _count(driver, css: str) -> int:
    return driver.execute_script("return document.querySelectorAll(arguments[0]).length", css)


def _texts(driver, css: str) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent)", css
    )


def _ladder(driver) -> list[tuple[str, str, str]]:
    rows = driver.execute_script(
        "return [...document.querySelectorAll('#ladder tbody tr.level')]"
        ".map(r => [r.dataset.side, r.dataset.price, r.dataset.qty])"
    )
    return [tuple(r) for r in rows]


def _best_bid(driver) -> str | None:
    return driver.execute_script(
        "const r = document.querySelector('#ladder tr.bid.best'); return r && r.dataset.price"
    )


def test_ladder_tape_and_status_follow_the_venue(server, browser, tmp_path):
    from PIL import Image
    from selenium.webdriver.common.by import By

    browser.get(f"http://127.0.0.1:{server.port}/?symbol=AAPL")
    _wait(browser, lambda d: _texts(d, "#conn") == ["live"], "the stream")
    # The book that existed before the page: 4 bids and 4 asks from the snapshot.
    _wait(browser, lambda d: len(_ladder(d)) == 8, "the initial ladder")
    ladder = _ladder(browser)
    assert ("B", "187.00", "10") in ladder
    assert ("S", "187.10", "20") in ladder
    assert [s for s, _, _ in ladder] == ["S"] * 4 + ["B"] * 4  # asks above bids

    # A new best bid submitted through the backend appears in the ladder.
    server.order("AAPL", BUY, 18705, 33)
    _wait(browser, lambda d: ("B", "187.05", "33") in _ladder(d), "the new bid")
    assert _best_bid(browser) == "187.05"

    # A sell that takes the best bid and part of the next: a trade on the tape, the level gone.
    server.order("AAPL", SELL, 18700, 38, account=3)
    _wait(browser, lambda d: _count(d, "#tape tbody tr") == 2, "two trades on the tape")
    _wait(browser, lambda d: ("B", "187.00", "5") in _ladder(d), "the partly taken bid")
    assert not any(p == "187.05" for _, p, _ in _ladder(browser))
    tape = _texts(browser, "#tape tbody tr")
    assert "187.05" in tape[-1]
    assert "33" in tape[-1]
    assert "187.00" in tape[0]
    assert "5" in tape[0]

    # Status: per-host load and symbol rows.
    _wait(browser, lambda d: _count(d, "#hosts tbody tr") >= 1, "the host table")
    _wait(browser, lambda d: _count(d, "#symbols tbody tr") == 2, "both symbols")
    server.halt("AAPL")
    _wait(browser, lambda d: _texts(d, "#ladder-state") == ["HALTED"], "HALTED")

    # Another symbol's ladder, by clicking its row.
    browser.execute_script("document.querySelector('#symbols tr[data-symbol=MSFT]').click()")
    _wait(browser, lambda d: _ladder(d) == [("B", "410.00", "7")], "MSFT's ladder")
    assert _texts(browser, "#ladder-symbol") == ["MSFT"]
    browser.execute_script("document.querySelector('#symbols tr[data-symbol=AAPL]').click()")
    _wait(browser, lambda d: len(_ladder(d)) == 8, "AAPL's ladder again")

    # The status stream caught up with every command (9 before, 2 orders, the halt).
    _wait(browser, lambda d: "enq_seq 12" in _texts(d, "#md-stats")[0], "the status")

    # The screenshot shows the populated ladder.
    shot = tmp_path / "web-view.png"
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 20_000
    ladder_el = browser.find_element(By.ID, "ladder")
    ratio = browser.execute_script("return window.devicePixelRatio") or 1
    rect = ladder_el.rect
    with Image.open(shot) as img:
        rgb = img.convert("RGB")
        assert rgb.size[0] >= 1000
        box = tuple(
            int(v * ratio)
            for v in (rect["x"], rect["y"], rect["x"] + rect["width"], rect["y"] + rect["height"])
        )
        raw = rgb.crop(box).tobytes()
    pixels = [tuple(raw[i : i + 3]) for i in range(0, len(raw), 3)]
    green = sum(1 for r, g, b in pixels if g > r + 60 and g > b + 20)  # bid text and bars
    red = sum(1 for r, g, b in pixels if r > g + 60 and r > b + 40)  # ask text and bars
    assert green > 200, f"no bid colour in the ladder ({green} pixels)"
    assert red > 200, f"no ask colour in the ladder ({red} pixels)"
    assert len(set(pixels)) > 30
    if os.environ.get("WHISTLE_WRITE_DOCS_SCREENSHOT"):
        DOCS_PNG.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOCS_PNG)


def test_gap_in_the_page_is_healed_by_a_snapshot(server, browser):
    """The page drops one update on purpose: it asks for a snapshot and ends right."""

    browser.get(f"http://127.0.0.1:{server.port}/?symbol=AAPL")
    _wait(browser, lambda d: len(_ladder(d)) == 8, "the initial ladder")
    # Make the page lose its next AAPL record (as if a message went missing).
    browser.execute_script("window.__whistleLoseNext = true;")
    server.order("AAPL", BUY, 18690, 4)  # adds to an existing level: the lost record
    server.order("AAPL", BUY, 18601, 9)  # the next record shows the gap
    _wait(browser, lambda d: ("B", "186.01", "9") in _ladder(d), "the healed ladder")
    ladder = _ladder(browser)
    assert ("B", "186.90", "16") in ladder  # 12 + 4: the lost update is in the snapshot
    assert browser.execute_script("return window.__whistleSnapshots") >= 1
    assert _texts(browser, "#conn") == ["live"]
