"""Many clients at once: unary calls, OrderEntry streams, order-update and market-data
subscribers. Afterwards the streams agree with the venue and with each other."""

from __future__ import annotations

import random
import threading
from typing import Any

import grpc
from server_harness import ServerThread, Stubs, market_data_pb2, metadata, order_entry_pb2

from whistle.coord import Venue

pb = order_entry_pb2
mdpb = market_data_pb2
ACCOUNTS = {"alice": 7, "bob": 8}


class Collector(threading.Thread):
    """Read a server stream into a list until it ends or is cancelled."""

    def __init__(self, call: Any) -> None:
        super().__init__(daemon=True)
        self.call = call
        self.items: list[Any] = []
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            for item in self.call:
                self.items.append(item)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                self.error = exc


def random_order(rng: random.Random) -> pb.SubmitOrderRequest:
    side = rng.choice((1, 2))
    price = 100 + rng.randint(-5, 5) + (2 if side == 2 else -2)
    return pb.SubmitOrderRequest(
        symbol=rng.choice(("AAPL", "MSFT")),
        side=side,
        qty_lots=rng.randint(1, 5),
        price_ticks=price,
    )


def wait_for(condition: Any, what: str) -> None:
    for _ in range(3000):
        if condition():
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def test_many_clients_at_once_and_every_stream_agrees() -> None:
    venue = Venue()
    venue.add_instrument("AAPL")
    venue.add_instrument("MSFT")
    thread = ServerThread(venue)
    stubs = Stubs(thread.address)
    try:
        updates = {
            name: Collector(
                stubs.orders.SubscribeOrderUpdates(
                    pb.SubscribeOrderUpdatesRequest(), metadata=metadata(name)
                )
            )
            for name in ACCOUNTS
        }
        every = Collector(
            stubs.orders.SubscribeOrderUpdates(
                pb.SubscribeOrderUpdatesRequest(), metadata=metadata("root")
            )
        )
        feed_requests = iter(
            [mdpb.MarketDataRequest(subscribe=mdpb.MarketDataSubscribe(all_levels=True))]
        )
        blocker = threading.Event()

        def requests() -> Any:
            yield from feed_requests
            blocker.wait(120)  # keep the request side open until the test ends

        market = Collector(stubs.md.SubscribeMarketData(requests(), metadata=metadata("md")))
        for collector in (*updates.values(), every):
            collector.call.initial_metadata()
        market.call.initial_metadata()

        venue_order_events: list[tuple[int, int, int]] = []

        def listen(events: list[Any]) -> None:
            venue_order_events.extend(
                (e.symbol_id, e.seq, e.account) for e in events if e.seq and hasattr(e, "account")
            )

        thread.run(thread.backend.add_listener, listen)
        results: dict[str, list[Any]] = {name: [] for name in ACCOUNTS}
        lock = threading.Lock()
        errors: list[BaseException] = []

        def unary(name: str, seed: int) -> None:
            rng = random.Random(seed)
            s = Stubs(thread.address)
            try:
                for _ in range(60):
                    result = s.orders.SubmitOrder(random_order(rng), metadata=metadata(name)).result
                    with lock:
                        results[name].append(result)
            except BaseException as exc:
                errors.append(exc)
            finally:
                s.close()

        def streamer(name: str, seed: int) -> None:
            rng = random.Random(seed)
            s = Stubs(thread.address)
            try:
                batches = [
                    pb.OrderEntryRequest(
                        commands=[
                            pb.OrderCommand(request_id=i, submit=random_order(rng))
                            for i in range(30)
                        ]
                    )
                    for _ in range(4)
                ]
                for response in s.orders.OrderEntry(iter(batches), metadata=metadata(name)):
                    with lock:
                        results[name] += [r.result for r in response.replies]
            except BaseException as exc:
                errors.append(exc)
            finally:
                s.close()

        workers = [
            threading.Thread(target=unary, args=(name, k))
            for k, name in enumerate(["alice", "bob", "alice", "bob"])
        ]
        workers += [
            threading.Thread(target=streamer, args=(name, 10 + k))
            for k, name in enumerate(ACCOUNTS)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join(120)
        assert not errors, errors
        assert sum(len(v) for v in results.values()) == 4 * 60 + 2 * 4 * 30

        # every command sequenced once, in one global order
        seqs = sorted(r.enq_seq for v in results.values() for r in v)
        assert seqs == list(range(1, len(seqs) + 1))

        def events_of(collector: Collector) -> list[Any]:
            return [e for batch in collector.items for e in batch.events]

        produced = venue_order_events  # what the backend told its listeners (the truth)
        wait_for(lambda: len(events_of(every)) >= len(produced), "the all-accounts order updates")
        assert [(e.symbol_id, e.seq) for e in events_of(every)] == [
            (sid, seq) for sid, seq, _ in produced
        ]
        truth = events_of(every)
        for name, account in ACCOUNTS.items():
            expected = [
                (e.symbol_id, e.seq)
                for e in truth
                if getattr(e, e.WhichOneof("kind")).account == account
            ]
            count = len(expected)
            wait_for(lambda c=updates[name], n=count: len(events_of(c)) >= n, f"{name}'s updates")
            got = [(e.symbol_id, e.seq) for e in events_of(updates[name])]
            assert got == expected, name
            # everything a command result said about the account is also on its stream
            own = {
                (e.symbol_id, e.seq)
                for r in results[name]
                for e in r.events
                if e.seq
                and getattr(e, e.WhichOneof("kind")).__class__.DESCRIPTOR.fields_by_name.get(
                    "account"
                )
                and getattr(e, e.WhichOneof("kind")).account == account
            }
            assert own <= set(got), name
            # and nothing in any of its results names the other account
            for r in results[name]:
                for e in r.events:
                    sub = getattr(e, e.WhichOneof("kind"))
                    if "account" in sub.DESCRIPTOR.fields_by_name:
                        assert sub.account == account

        # the market-data stream rebuilt gives the venue's books
        def md_books() -> dict[int, dict[tuple[int, int], int]]:
            books: dict[int, dict[tuple[int, int], int]] = {}
            last: dict[int, int] = {}
            for batch in list(market.items):
                for u in batch.updates:
                    kind = u.WhichOneof("kind")
                    if kind == "snapshot":
                        books[u.symbol_id] = {
                            (1, lv.price_ticks): lv.qty_lots for lv in u.snapshot.bids
                        } | {(2, lv.price_ticks): lv.qty_lots for lv in u.snapshot.asks}
                    else:
                        assert u.md_seq == last[u.symbol_id] + 1, "a gap in md_seq"
                        if kind == "level":
                            key = (u.level.side, u.level.level.price_ticks)
                            if u.level.level.qty_lots:
                                books[u.symbol_id][key] = u.level.level.qty_lots
                            else:
                                books[u.symbol_id].pop(key, None)
                    last[u.symbol_id] = u.md_seq
            return books

        def venue_books() -> dict[int, dict[tuple[int, int], int]]:
            out = {}
            for s in venue.symbols:
                depth = venue.depth(s, None)
                out[depth.symbol_id] = {(1, lv.price_ticks): lv.qty_lots for lv in depth.bids} | {
                    (2, lv.price_ticks): lv.qty_lots for lv in depth.asks
                }
            return out

        want = thread.run(venue_books)
        wait_for(lambda: md_books() == want, "the market-data stream to converge")
        assert market.error is None
        for collector in (*updates.values(), every):
            assert collector.error is None
            collector.call.cancel()
        blocker.set()
        market.call.cancel()
        for collector in (*updates.values(), every, market):
            collector.join(30)
    finally:
        stubs.close()
        thread.close()
