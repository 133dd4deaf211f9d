"""A ``whistle serve --data-dir`` process SIGKILLed and restarted on the same port.

The clients keep their objects across the crash: unary calls wait for the server and go
on, the order-update and market-data streams reconnect by themselves, a submit made while
the server is down is sent once it is back. Nothing acknowledged is lost (every order the
clients were answered for is at the venue after recovery, resting ones still resting), and
resubmitting by ``client_order_id`` after the reconnect returns the original outcome
(``DuplicateClientOrder`` + the original's events), changing nothing.

``WHISTLE_RESTART_KILLS=N`` repeats the kill/restart N times (default 1).
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Any

import msgspec
import pytest
from server_harness import KEYS, auth_config

from whistle.api.client import Client, ConnectionLost, Retry
from whistle.api.marketdata import Snapshot
from whistle.bench.api import ServerProcess
from whistle.core.events import DuplicateClientOrder, OrderAccepted, OrderFilled

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

KILLS = int(os.environ.get("WHISTLE_RESTART_KILLS", "1"))
RETRY = Retry(backoff_s=0.05, max_backoff_s=0.5, reconnect_timeout_s=90.0)


def wait_for(cond: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


class Reader:
    """Iterate a stream in a thread, keeping every batch."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.batches: list[list[Any]] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for batch in self.stream:
                self.batches.append(batch)
        except BaseException as exc:
            self.error = exc

    def items(self) -> list[Any]:
        return [item for batch in list(self.batches) for item in batch]

    def close(self) -> None:
        self.stream.close()
        self.thread.join(30)


def test_sigkill_restart_loses_nothing_acknowledged(tmp_path: Path) -> None:
    config = tmp_path / "keys.json"
    config.write_bytes(msgspec.json.encode(auth_config()))
    data_dir = tmp_path / "venue"
    server = ServerProcess(config, instruments=["AAPL:0.01:1"], data_dir=data_dir)
    address = server.start()
    port = int(address.rsplit(":", 1)[1])
    alice = Client(address, api_key=KEYS["alice"][0], retry=RETRY, timeout_s=90)
    bob = Client(address, api_key=KEYS["bob"][0], retry=RETRY, timeout_s=90)
    updates = Reader(alice.order_updates())
    assert updates.stream.wait_ready()
    market = Reader(alice.market_data(["AAPL"]))
    acknowledged: dict[int, list[Any]] = {}  # client order id -> its answer's events
    coid = 0
    try:
        for round_ in range(KILLS):
            # Acknowledged orders: resting bids, and some that bob's sells fill.
            for i in range(20):
                coid += 1
                price = 10_000 - (coid % 7)
                acknowledged[coid] = alice.submit(
                    "AAPL", "buy", qty_lots=2, price_ticks=price, client_order_id=coid
                )
                assert isinstance(acknowledged[coid][0], OrderAccepted)
                assert alice.last_result is not None
                assert alice.last_result.enq_seq > 0
                if i % 5 == 4:
                    bob.submit("AAPL", "sell", qty_lots=1, price_ticks=price)
            book_before = alice.depth("AAPL", 100)
            mine_before = alice.open_orders("AAPL")
            reconnects = (updates.stream.reconnects, market.stream.reconnects)

            assert server.kill() != 0  # SIGKILL: no drain, no checkpoint, no clean stop

            # A submit made while the server is down waits and is sent once it is back.
            coid += 1
            pending_coid = coid
            answer: list[Any] = []
            sender = threading.Thread(
                target=lambda c=pending_coid, answer=answer: answer.extend(
                    alice.submit("AAPL", "buy", qty_lots=1, price_ticks=9_000, client_order_id=c)
                ),
                daemon=True,
            )
            sender.start()
            server = ServerProcess(
                config, instruments=["AAPL:0.01:1"], data_dir=data_dir, port=port
            )
            server.start()
            sender.join(90)
            assert answer, f"the submit made during the outage (round {round_}) got no answer"
            assert isinstance(answer[0], OrderAccepted)
            acknowledged[pending_coid] = answer

            # Everything acknowledged is there: the book as before, plus the new order.
            after = alice.depth("AAPL", 100)
            expected = {lv.price_ticks: lv.qty_lots for lv in book_before.bids}
            expected[9_000] = expected.get(9_000, 0) + 1
            assert {lv.price_ticks: lv.qty_lots for lv in after.bids} == expected
            mine_after = {o.order_id for o in alice.open_orders("AAPL")}
            assert {o.order_id for o in mine_before} <= mine_after
            for number, events in acknowledged.items():
                view = alice.client_order(number)
                assert view is not None, f"client order {number} was acknowledged, then lost"
                assert view.order_id == events[0].order_id
                assert view.enq_seq == events[0].enq_seq

            # Resubmitting by client order id returns the original outcome, changes nothing.
            for number in (1, pending_coid):
                first = acknowledged[number][0]
                again = alice.submit(
                    "AAPL",
                    "buy",
                    qty_lots=first.qty_lots,
                    price_ticks=first.price_ticks,
                    client_order_id=number,
                )
                assert isinstance(again[0], DuplicateClientOrder)
                assert again[0].order_id == first.order_id
                assert again[1] == first
            assert alice.depth("AAPL", 100) == after

            # The streams reconnected by themselves and carry what happens now.
            wait_for(
                lambda r=reconnects: (
                    updates.stream.reconnects > r[0] and market.stream.reconnects > r[1]
                ),
                "both streams to reconnect",
            )
            seen = len(updates.items())
            bob.submit("AAPL", "sell", qty_lots=1, price_ticks=9_000)
            wait_for(
                lambda s=seen: any(isinstance(e, OrderFilled) for e in updates.items()[s:]),
                "alice's fill on her reconnected update stream",
            )
            sid = alice.instrument("AAPL").symbol_id
            wait_for(
                lambda sid=sid: (
                    market.stream.view.levels(sid)[0][:1]
                    == [
                        (lv.price_ticks, lv.qty_lots, lv.order_count)
                        for lv in alice.depth("AAPL").bids
                    ][:1]
                ),
                "the reconnected market data to show the recovered book",
            )
            assert any(isinstance(r, Snapshot) for r in market.items())
        assert updates.error is None
        assert market.error is None
    finally:
        updates.close()
        market.close()
        alice.close()
        bob.close()
        server.stop()


def test_an_order_entry_stream_cut_by_sigkill_resubmits_exactly_once(tmp_path: Path) -> None:
    """Orders in flight on an ``OrderEntry`` stream when the server dies: the stream reports
    which ones went unanswered; after the restart, resubmitting every one of them by its
    client order id enters each order exactly once (a repeat answers with the original)."""
    config = tmp_path / "keys.json"
    config.write_bytes(msgspec.json.encode(auth_config()))
    data_dir = tmp_path / "venue"
    server = ServerProcess(config, instruments=["AAPL:0.01:1"], data_dir=data_dir)
    address = server.start()
    port = int(address.rsplit(":", 1)[1])
    alice = Client(address, api_key=KEYS["alice"][0], retry=RETRY, timeout_s=90)
    total = 3000
    try:
        entry = alice.order_entry()
        for coid in range(1, total + 1):
            entry.send_submit("AAPL", "buy", qty_lots=1, price_ticks=10_000, client_order_id=coid)
        answered: dict[int, int] = {}  # client order id (= request id) -> venue order id
        for _ in range(total // 10):
            rid, result = entry.recv()
            answered[rid] = result.order_id
        server.kill()

        def read_until_broken() -> None:
            while True:
                rid, result = entry.recv()
                answered[rid] = result.order_id

        with pytest.raises(ConnectionLost) as lost:
            read_until_broken()
        unanswered = set(lost.value.unanswered)
        assert unanswered | set(answered) == set(range(1, total + 1))
        assert not unanswered & set(answered)
        entry.close()

        server = ServerProcess(config, instruments=["AAPL:0.01:1"], data_dir=data_dir, port=port)
        server.start()
        for coid in range(1, total + 1):
            events = alice.submit(
                "AAPL", "buy", qty_lots=1, price_ticks=10_000, client_order_id=coid
            )
            if coid in answered:
                assert isinstance(events[0], DuplicateClientOrder), coid
                assert events[0].order_id == answered[coid]
            else:  # never answered: taken before the kill (a repeat) or never taken (new)
                assert isinstance(events[0], (DuplicateClientOrder, OrderAccepted)), events
        # Each client order id is exactly one order at the venue.
        assert alice.depth("AAPL").bids[0].qty_lots == total
        assert len({o.order_id for o in alice.open_orders("AAPL")}) == total
    finally:
        alice.close()
        server.stop()
