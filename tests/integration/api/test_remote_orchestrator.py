"""The orchestrator, unchanged, trading through ``RemoteLink`` on a real server.

``Orchestrator(link_factory=...)`` gets a ``RemoteLink`` (an admin key: one account per
pair) instead of its in-process venue: the actors' orders, the simulated flow and every
update cross a real socket to a ``WhistleServer`` whose venue is checked directly.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from server_harness import KEYS, ServerThread

from whistle.api.client import Client
from whistle.api.remote import RemoteLink
from whistle.coord import Venue
from whistle.orchestrator import Orchestrator
from whistle.orchestrator.simulator import SIM_ACCOUNT

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

MM = "whistle.trading.examples:MarketMaker"


def wait_for(cond: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    """Poll ``cond`` until true (a deadline, not a timed assertion)."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def server() -> Iterator[ServerThread]:
    thread = ServerThread(Venue())
    yield thread
    thread.close()


def test_the_orchestrator_trades_through_a_remote_server(
    server: ServerThread, tmp_path: Path
) -> None:
    links: list[RemoteLink] = []

    def remote(_venue_dir: Path) -> RemoteLink:
        client = Client(server.address, api_key=KEYS["root"][0], timeout_s=20)
        link = RemoteLink(client, owns_client=True, ignore_accounts=frozenset((SIM_ACCOUNT,)))
        links.append(link)
        return link

    orch = Orchestrator(
        tmp_path / "orch", simulate=7, backoff_s=0.02, hang_timeout_s=2.0, link_factory=remote
    )
    orch.start()
    try:
        assert orch.venue is None  # no in-process venue was opened
        assert orch.add_trading_pair("AAA", MM, {"qty_lots": 1})["outcome"] == "added"
        wait_for(lambda: orch.snapshot("AAA").fills > 0, "a fill of the AAA market maker")
        snap = orch.snapshot("AAA")
        assert snap.consistent()
        assert orch.managers["AAA"].state == "RUNNING"
        link = links[0]
        sid = server.run(lambda: server.venue.instrument("AAA").symbol_id)
        # The server's venue holds what the orchestrator did: the link's view of the pair's
        # resting orders is the venue's own.
        (account,) = {
            int(row.strategy_config["account"])
            for row in orch.registry.rows()
            if row.symbol == "AAA"
        }
        with link.lock:  # no order of the actors or the simulated flow in between
            open_here = link.open_orders(account, sid)
            open_there = server.run(
                lambda: [
                    (o.order_id, o.side, o.price_ticks, o.qty_lots + o.hidden_lots)
                    for o in server.venue.l3(sid)
                    if o.account == account
                ]
            )
        assert open_here == open_there
        assert open_here, "the market maker quotes"
        orch.pause("AAA")
        wait_for(lambda: link.open_orders(account, sid) == [], "the paused pair's orders gone")

        # Every fill reached the actor exactly once, although each one came twice (in an
        # answer and on the update stream): the position is the sum of the link's fills.
        def bought_sold() -> tuple[int, int]:
            fills = link.fills(account, sid)
            return (
                sum(q for side, _p, q, _f in fills if side == 1),
                sum(q for side, _p, q, _f in fills if side == 2),
            )

        wait_for(
            lambda: (orch.snapshot("AAA").bought, orch.snapshot("AAA").sold) == bought_sold(),
            "the position to match the venue's fills",
        )
        assert orch.snapshot("AAA").fills == len(link.fills(account, sid))
        assert link.stream_errors == []
    finally:
        orch.stop()
    assert links[0].closed


def test_a_restarted_orchestrator_restores_positions_from_the_servers_fills(
    server: ServerThread, tmp_path: Path
) -> None:
    """A new orchestrator life on a remote venue starts each pair from the server's fill
    history (``ListFills``), as a local one does from its venue's event journal."""

    def remote(_venue_dir: Path) -> RemoteLink:
        client = Client(server.address, api_key=KEYS["root"][0], timeout_s=20)
        return RemoteLink(client, owns_client=True, ignore_accounts=frozenset((SIM_ACCOUNT,)))

    first = Orchestrator(tmp_path / "orch", simulate=3, backoff_s=0.02, link_factory=remote)
    first.start()
    try:
        first.add_trading_pair("AAA", MM, {"qty_lots": 1})
        wait_for(lambda: first.snapshot("AAA").fills >= 3, "fills of the AAA market maker")
        first.pause("AAA")
        wait_for(
            lambda: first.link.open_orders(1, first.link.venue.instrument("AAA").symbol_id) == [],
            "the paused pair's quotes gone",
        )
        link = first.link
        sid = link.venue.instrument("AAA").symbol_id

        def settled() -> bool:  # the actor has booked every fill the link saw
            fills = link.fills(1, sid)
            snap = first.snapshot("AAA")
            return snap.fills == len(fills) and snap.bought == sum(
                q for side, _p, q, _f in fills if side == 1
            )

        wait_for(settled, "the actor to book every fill")
        before = first.snapshot("AAA")
    finally:
        first.stop()
    assert before.fills >= 3

    second = Orchestrator(tmp_path / "orch", backoff_s=0.02, link_factory=remote)
    second.start()
    try:
        wait_for(lambda: "AAA" in second.managers, "the AAA actor's new life")
        after = second.snapshot("AAA")
        assert (after.position, after.bought, after.sold) == (
            before.position,
            before.bought,
            before.sold,
        )
        assert isinstance(second.link, RemoteLink)
        assert second.link.fills_complete
    finally:
        second.stop()
