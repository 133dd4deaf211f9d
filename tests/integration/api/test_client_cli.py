"""``whistle client submit|cancel|book|watch|orders`` against a real server."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner
from server_harness import KEYS, ServerThread

from whistle.api.client import Client
from whistle.cli.client import client
from whistle.coord import Venue

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def server() -> Iterator[ServerThread]:
    venue = Venue()
    venue.add_instrument("AAPL", tick_size="0.01", lot_size="1")
    thread = ServerThread(venue)
    yield thread
    thread.close()


def cli(server: ServerThread, *args: str, who: str = "alice") -> list[str]:
    result = CliRunner().invoke(
        client, ["--target", server.address, "--api-key", KEYS[who][0], *args]
    )
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def test_submit_cancel_book_and_orders(server: ServerThread) -> None:
    out = cli(server, "submit", "AAPL", "buy", "100", "187.25", "--json")
    accepted = json.loads(out[0])
    assert accepted["event"] == "OrderAccepted"
    assert (accepted["price"], accepted["qty"], accepted["account"]) == ("187.25", "100", 7)
    text = cli(server, "submit", "AAPL", "sell", "5", "190", "--client-order-id", "9")
    assert text[0].startswith("OrderAccepted")
    # The instrument's decimals and enum names, as a person reads them.
    for part in ("price=190.00", "qty=5", "side=SELL", "order_type=LIMIT", "tif=GTC"):
        assert part in text[0], text[0]
    book = "\n".join(cli(server, "book", "AAPL"))
    assert "187.25" in book
    assert "190.00" in book
    depth = json.loads(cli(server, "book", "AAPL", "--json")[0])
    assert depth["bids"] == [[18725, 100, 1]]
    listed = [json.loads(line) for line in cli(server, "orders", "--json")]
    assert sorted((o["price"], o["qty"]) for o in listed) == [("187.25", "100"), ("190.00", "5")]
    cancelled = json.loads(cli(server, "cancel", "AAPL", str(accepted["order_id"]), "--json")[0])
    assert cancelled["event"] == "OrderCancelled"
    left = [json.loads(line)["price"] for line in cli(server, "orders", "AAPL", "--json")]
    assert left == ["190.00"]
    rejected = json.loads(cli(server, "submit", "AAPL", "buy", "1.5", "10", "--json")[0])
    assert rejected["event"] == "OrderRejected"
    assert "1.5" in rejected["detail"]


def test_errors_are_one_line_and_status_1(server: ServerThread) -> None:
    result = CliRunner().invoke(
        client, ["--target", server.address, "--api-key", "wrong", "book", "AAPL"]
    )
    assert result.exit_code == 1
    assert "UNAUTHENTICATED" in result.output
    result = CliRunner().invoke(
        client, ["--target", server.address, "--api-key", KEYS["alice"][0], "book", "NOPE"]
    )
    assert result.exit_code == 1
    assert "NOPE" in result.output


def test_watch_once_prints_the_ladder(server: ServerThread) -> None:
    cli(server, "submit", "AAPL", "buy", "100", "187.25")
    cli(server, "submit", "AAPL", "sell", "7", "187.30", who="bob")
    out = "\n".join(cli(server, "watch", "AAPL", "--once"))
    assert "187.25" in out
    assert "187.30" in out
    assert "ACTIVE" in out


def test_watch_follows_live_updates_and_stops_after_n(server: ServerThread) -> None:
    args = [
        sys.executable,
        "-c",
        "from whistle.cli.client import client; client()",
        "--target",
        server.address,
        "--api-key",
        KEYS["md"][0],
        "watch",
        "AAPL",
        "--updates",
        "3",
    ]
    with Client(server.address, api_key=KEYS["alice"][0]) as alice:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            # Orders until the watcher has seen three updates (it subscribes on its own time).
            price = 18000
            deadline = time.monotonic() + 60
            while proc.poll() is None:
                if time.monotonic() > deadline:
                    pytest.fail("the watcher did not stop after 3 updates")
                alice.submit("AAPL", "buy", "1", None, price_ticks=price)
                price += 1
                try:
                    proc.wait(0.05)
                except subprocess.TimeoutExpired:
                    continue
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, err
    assert re.search(r"180\.\d\d ", out), out  # levels the orders made, two decimals
    assert "updates" in out
