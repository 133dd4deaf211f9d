"""``whistle.api.Client`` against a real server on 127.0.0.1 (ephemeral port).

Every test talks over a real socket to H1's ``WhistleServer`` on an in-process ``Venue``
(``server_harness.ServerThread``); the venue's own state is read on the server's loop
thread to check what the client was told.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from server_harness import KEYS, ServerThread

from whistle.api.client import (
    AuthenticationError,
    Client,
    NotFound,
    PermissionDenied,
)
from whistle.api.marketdata import Level, Snapshot, SnapshotCause
from whistle.api.v1 import market_data_pb2
from whistle.coord import Venue
from whistle.core.events import (
    DuplicateClientOrder,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderModified,
    OrderRejected,
    OrderReplaced,
    TradeOccurred,
    TradingStatusChanged,
)
from whistle.core.reasons import RejectReason

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def server() -> Iterator[ServerThread]:
    venue = Venue()
    venue.add_instrument("AAPL", tick_size="0.01", lot_size="1")
    venue.add_instrument("MSFT", tick_size="0.05", lot_size="10")
    thread = ServerThread(venue)
    yield thread
    thread.close()


def client(server: ServerThread, who: str = "alice") -> Client:
    return Client(server.address, api_key=KEYS[who][0], timeout_s=20)


def kinds(events: list[object]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_submit_decimal_and_integer_forms_cancel_modify_replace(server: ServerThread) -> None:
    with client(server) as c:
        events = c.submit("AAPL", "buy", "100", "187.25")
        accepted = events[0]
        assert isinstance(accepted, OrderAccepted)
        assert (accepted.price_ticks, accepted.qty_lots, accepted.account) == (18725, 100, 7)
        assert c.last_result is not None
        assert c.last_result.order_id == accepted.order_id
        assert c.last_result.enq_seq > 0
        sid = c.instrument("AAPL").symbol_id
        ints = c.submit(sid, "sell", qty_lots=5, price_ticks=18800, tif="gtc")
        assert isinstance(ints[0], OrderAccepted)
        second = ints[0].order_id
        mod = c.modify("AAPL", second, price="188.10")
        assert isinstance(mod[0], OrderModified)
        assert mod[0].price_ticks == 18810
        rep = c.replace("AAPL", second, price_ticks=18820, qty_lots=3)
        assert isinstance(rep[0], OrderReplaced)
        new_id = rep[0].new_order_id
        cancelled = c.cancel("AAPL", new_id)
        assert isinstance(cancelled[0], OrderCancelled)
        depth = c.depth("AAPL")
        assert [(lv.price_ticks, lv.qty_lots) for lv in depth.bids] == [(18725, 100)]
        assert depth.asks == []
        assert server.run(lambda: server.venue.depth("AAPL").bids) == depth.bids
        out = c.mass_cancel("AAPL")
        assert kinds(out).count("OrderCancelled") == 1
        assert c.depth("AAPL").bids == []


def test_edge_rejects_are_events_with_the_venues_words(server: ServerThread) -> None:
    with client(server) as c:
        events = c.submit("AAPL", "buy", "1.5", "187.25")
        assert len(events) == 1
        reject = events[0]
        assert isinstance(reject, OrderRejected)
        assert reject.seq == 0
        assert reject.reason == RejectReason.INVALID_QTY_PRECISION
        assert c.last_reject_detail is not None
        assert "1.5" in c.last_reject_detail
        price = c.submit("MSFT", "buy", "10", "1.01")  # tick 0.05
        assert isinstance(price[0], OrderRejected)
        assert price[0].reason == RejectReason.INVALID_PRICE_PRECISION
        unknown = c.submit("NOPE", "buy", "1", "1")
        assert isinstance(unknown[0], OrderRejected)
        assert unknown[0].reason == RejectReason.UNKNOWN_SYMBOL
        assert c.depth("AAPL").bids == []
        with pytest.raises(ValueError, match="side must be one of"):
            c.submit("AAPL", "sideways", "1", "1")
        with pytest.raises(TypeError):
            c.submit("AAPL", "buy", 1.5, "1")  # floats never reach the order path
        with pytest.raises(ValueError, match="not both"):
            c.submit("AAPL", "buy", "1", "1", qty_lots=1)


def test_client_order_id_repeat_returns_the_original_outcome(server: ServerThread) -> None:
    with client(server) as c:
        first = c.submit("AAPL", "buy", "10", "100.00", client_order_id=42)
        again = c.submit("AAPL", "buy", "10", "100.00", client_order_id=42)
        assert isinstance(again[0], DuplicateClientOrder)
        assert again[0].order_id == first[0].order_id  # type: ignore[attr-defined]
        assert again[1] == first[0]
        assert c.last_result is not None
        assert c.last_result.enq_seq == 0  # nothing sequenced
        other = c.submit("AAPL", "buy", "11", "100.00", client_order_id=42)
        assert isinstance(other[0], OrderRejected)
        assert other[0].reason == RejectReason.DUPLICATE_CLIENT_ORDER_ID
        assert [(lv.qty_lots) for lv in c.depth("AAPL").bids] == [10]
        view = c.client_order(42)
        assert view is not None
        assert view.order_id == first[0].order_id  # type: ignore[attr-defined]
        assert view.events[0] == first[0]
        assert c.client_order(43) is None


def test_another_accounts_cancel_is_refused_and_changes_nothing(server: ServerThread) -> None:
    with client(server, "alice") as alice, client(server, "bob") as bob:
        order_id = alice.submit("AAPL", "buy", "10", "100.00")[0].order_id  # type: ignore[attr-defined]
        before = server.run(lambda: server.venue.l3("AAPL"))
        refused = bob.cancel("AAPL", order_id)
        assert isinstance(refused[0], OrderRejected)
        assert refused[0].reason == RejectReason.UNKNOWN_ORDER_ID
        modify = bob.modify("AAPL", order_id, qty="1")
        assert isinstance(modify[0], OrderRejected)
        assert server.run(lambda: server.venue.l3("AAPL")) == before  # the book is untouched
        assert bob.order("AAPL", order_id) is None  # looks like no order at all
        assert bob.open_orders("AAPL") == []
        mine = alice.open_orders("AAPL")
        assert [(o.order_id, o.qty_lots) for o in mine] == [(order_id, 10)]
        info = alice.order("AAPL", order_id)
        assert info is not None
        assert info.leaves_qty_lots == 10
        with pytest.raises(PermissionDenied):
            bob.submit("AAPL", "buy", "1", "100.00", account=7)


def test_keys_and_roles(server: ServerThread) -> None:
    with (
        Client(server.address, api_key="not-a-key") as stranger,
        pytest.raises(AuthenticationError),
    ):
        stranger.depth("AAPL")
    with Client(server.address) as nobody, pytest.raises(AuthenticationError):
        nobody.submit("AAPL", "buy", "1", "1")
    with client(server, "alice") as alice:
        with pytest.raises(PermissionDenied):
            alice.halt("AAPL")
        with pytest.raises(PermissionDenied):
            alice.add_instrument("TSLA")
    with client(server, "md") as md, pytest.raises(PermissionDenied):
        md.submit("AAPL", "buy", "1", "1")
    with client(server, "root") as root:
        halted = root.halt("AAPL")
        assert any(isinstance(e, TradingStatusChanged) for e in halted)
        with client(server, "alice") as alice:
            refused = alice.submit("AAPL", "buy", "1", "100.00")
            assert isinstance(refused[0], OrderRejected)
            assert refused[0].reason == RejectReason.TRADING_HALTED
        root.resume("AAPL")
        inst = root.add_instrument("TSLA", tick_size="0.01", lot_size="1")
        assert root.is_registered("TSLA")
        assert root.instrument(inst.symbol_id) == inst
        assert "TSLA" in root.symbols
        assert root.status("AAPL").state == 1
        assert root.l3("AAPL") == []
        with pytest.raises(NotFound):
            root.depth("NOPE")
        with pytest.raises(KeyError):  # NotFound is a KeyError, as Venue.instrument raises
            root.instrument("NOPE")


def test_order_entry_stream_answers_in_order(server: ServerThread) -> None:
    with client(server) as c, c.order_entry() as entry:
        ids = [
            entry.send_submit("AAPL", "sell", qty_lots=1, price_ticks=20_000 + i)
            for i in range(200)
        ]
        bad = entry.send_submit("AAPL", "sell", "0.5", "200")
        results = list(entry.results())
        assert [rid for rid, _ in results] == [*ids, bad]
        prices = [r.events[0].price_ticks for _, r in results[:-1]]  # type: ignore[attr-defined]
        assert prices == [20_000 + i for i in range(200)]
        assert isinstance(results[-1][1].events[0], OrderRejected)
        assert entry.pending == 0
        cancel = entry.send_cancel("AAPL", results[0][1].order_id)
        rid, answer = entry.recv()
        assert rid == cancel
        assert isinstance(answer.events[0], OrderCancelled)
        assert len(c.depth("AAPL", levels=1000).asks) == 199


def test_market_data_stream_snapshot_then_contiguous_deltas(server: ServerThread) -> None:
    with client(server) as alice, client(server, "bob") as bob:
        alice.submit("AAPL", "buy", "10", "100.00")
        with alice.market_data(["AAPL"], depth=5) as md:
            batches = iter(md)
            first = next(batches)
            assert isinstance(first[0], Snapshot)
            assert first[0].cause == SnapshotCause.INITIAL
            assert [(lv.price_ticks, lv.qty_lots) for lv in first[0].bids] == [(10000, 10)]
            bob.submit("AAPL", "sell", "4", "100.00")
            seen: list[object] = []
            while not any(type(r).__name__ == "Trade" for r in seen):
                seen += next(batches)
            sid = alice.instrument("AAPL").symbol_id
            bids, asks = md.view.levels(sid)
            assert bids == [(10000, 6, 1)]
            assert asks == []
            seqs = [r.md_seq for r in [first[0], *seen]]  # type: ignore[attr-defined]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
            assert md.gaps == 0


def test_a_gap_drops_the_symbols_deltas_and_asks_for_a_snapshot(server: ServerThread) -> None:
    with client(server) as alice:
        md = alice.market_data(["AAPL"])
        sid = alice.instrument("AAPL").symbol_id

        def update(seq: int, snapshot: bool = False) -> market_data_pb2.MarketDataUpdate:
            message = market_data_pb2.MarketDataUpdate(symbol_id=sid, md_seq=seq)
            if snapshot:
                message.snapshot.cause = market_data_pb2.SNAPSHOT_CAUSE_REQUESTED
            else:
                message.level.side = 1
                message.level.level.price_ticks = 100 + seq
                message.level.level.qty_lots = 1
                message.level.level.order_count = 1
            return message

        batch = market_data_pb2.MarketDataBatch(
            updates=[update(5, snapshot=True), update(6), update(8), update(9)]
        )
        records, gapped = md.take(batch)
        assert [r.md_seq for r in records] == [5, 6]
        assert gapped == {sid}
        assert md.gaps == 1
        # Later deltas stay dropped (no second request) until the snapshot comes.
        records, gapped = md.take(market_data_pb2.MarketDataBatch(updates=[update(10)]))
        assert (records, gapped) == ([], set())
        records, gapped = md.take(
            market_data_pb2.MarketDataBatch(updates=[update(20, snapshot=True), update(21)])
        )
        assert [r.md_seq for r in records] == [20, 21]
        assert isinstance(records[1], Level)
        assert md.gaps == 1
        md.close()


def test_requested_snapshot_arrives_on_the_live_stream(server: ServerThread) -> None:
    with client(server) as alice, alice.market_data(["AAPL"]) as md:
        batches = iter(md)
        first = next(batches)[0]
        assert isinstance(first, Snapshot)
        md.request_snapshot([first.symbol_id])
        again = next(batches)[0]
        assert isinstance(again, Snapshot)
        assert again.cause == SnapshotCause.REQUESTED


def test_order_updates_stream_carries_fills_from_others_flow(server: ServerThread) -> None:
    with (
        client(server, "alice") as alice,
        client(server, "bob") as bob,
        alice.order_updates() as updates,
    ):
        assert updates.wait_ready()
        batches = iter(updates)
        order_id = alice.submit("AAPL", "buy", "10", "100.00")[0].order_id  # type: ignore[attr-defined]
        bob.submit("AAPL", "sell", "10", "100.00")
        got: list[object] = []
        while not any(isinstance(e, OrderFilled) for e in got):
            got += next(batches)
        assert all(getattr(e, "account", 7) == 7 for e in got)  # never bob's side
        fill = next(e for e in got if isinstance(e, OrderFilled))
        assert fill.order_id == order_id
        assert not any(isinstance(e, TradeOccurred) for e in got)


def test_one_client_shared_by_threads(server: ServerThread) -> None:
    """Calls from many threads on one Client: each thread's last_result is its own answer."""
    import threading

    mismatches: list[tuple[int, int]] = []
    with client(server) as c:

        def work(thread: int) -> None:
            for i in range(40):
                coid = thread * 1000 + i + 1
                events = c.submit(
                    "AAPL", "buy", qty_lots=1, price_ticks=9_000 + thread, client_order_id=coid
                )
                result = c.last_result
                assert result is not None
                if result.order_id != events[0].order_id:  # type: ignore[attr-defined]
                    mismatches.append((thread, coid))

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert mismatches == []
        depth = c.depth("AAPL")
        assert [(lv.price_ticks, lv.qty_lots) for lv in depth.bids] == [
            (9_000 + t, 40) for t in reversed(range(8))
        ]
