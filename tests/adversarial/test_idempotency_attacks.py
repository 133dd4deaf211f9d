"""R2: attacks on the venue's idempotent order entry (client_order_id).

Every (account, client_order_id) enters the venue's command journal at most once,
whatever the path (send, send_many with the same id twice in one batch, enqueue twice,
CancelReplace), across a SIGKILL after a checkpoint with a command still pending, and
with host processes; recovery and `whistle replay` agree on the table.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from typing import TYPE_CHECKING

import pytest

from whistle import Venue
from whistle.coord.durability.datadir import iter_records
from whistle.coord.durability.records import Sequenced
from whistle.coord.durability.replay import replay
from whistle.core.commands import CancelReplace, NewOrder
from whistle.core.events import DuplicateClientOrder, Event, OrderRejected
from whistle.core.reasons import RejectReason

if TYPE_CHECKING:
    from pathlib import Path


def venue(**kw: object) -> Venue:
    v = Venue(**kw)  # type: ignore[arg-type]
    v.add_instrument("AAA", tick_size="1", lot_size="1")
    v.add_instrument("BBB", tick_size="1", lot_size="1")
    return v


def order(v: Venue, oid: int, coid: int, price: int = 100, symbol: str = "AAA") -> NewOrder:
    sid = v.instrument(symbol).symbol_id
    return NewOrder(sid, oid, 1, 1, 1, 1, price, 10, 0, 0, False, 0, 0, 0, coid)


def kinds(events: list[Event]) -> list[str]:
    return [type(e).__name__ for e in events]


def journal_keys(data: Path) -> Counter[tuple[int, int]]:
    counts: Counter[tuple[int, int]] = Counter()
    for record in iter_records(data):
        if isinstance(record, Sequenced) and isinstance(record.command, (NewOrder, CancelReplace)):
            command = record.command
            if command.client_order_id:
                counts[(command.account or 0, command.client_order_id)] += 1
    return counts


@pytest.mark.parametrize("hosts", [0, 1])
@pytest.mark.parametrize("journaled", [False, True])
def test_the_same_id_twice_in_one_batch_and_twice_enqueued_enters_once(
    tmp_path: Path, hosts: int, journaled: bool
) -> None:
    data = tmp_path / "v" if journaled else None
    v = venue(hosts=hosts, data_dir=data)
    try:
        a = order(v, 1, 7)
        out = v.send_many([a, a])
        assert kinds(out).count("OrderAccepted") == 2  # the original's, then the repeat's copy
        assert sum(isinstance(e, DuplicateClientOrder) for e in out) == 1
        # Different fields under the same id inside one batch: the second is refused.
        out = v.send_many([order(v, 2, 8), order(v, 3, 8, price=101)])
        rejects = [e for e in out if isinstance(e, OrderRejected)]
        assert [r.reason for r in rejects] == [RejectReason.DUPLICATE_CLIENT_ORDER_ID]
        first = v.enqueue(order(v, 4, 9, price=99))
        assert v.enqueue(order(v, 4, 9, price=99)) == first
        v.tick()
        # The same id on another symbol of the same account is another command: refused.
        refused = v.submit("BBB", "buy", qty_lots=1, price_ticks=5, account=1, client_order_id=7)
        assert isinstance(refused[0], OrderRejected)
        assert sorted(o.order_id for o in v.l3("AAA")) == [1, 2, 4]
        assert v.l3("BBB") == []
    finally:
        v.stop()
    if data is not None:
        assert set(journal_keys(data).values()) == {1}


def test_a_cancel_replace_cannot_take_a_new_orders_id_and_repeats_once() -> None:
    v = venue()
    v.send(order(v, 1, 7))
    refused = v.replace("AAA", 1, account=1, price_ticks=98, qty_lots=10, client_order_id=7)
    assert isinstance(refused[0], OrderRejected)
    assert refused[0].reason == RejectReason.DUPLICATE_CLIENT_ORDER_ID
    first = v.replace("AAA", 1, account=1, price_ticks=97, qty_lots=10, client_order_id=20)
    again = v.replace("AAA", 1, account=1, price_ticks=97, qty_lots=10, client_order_id=20)
    assert kinds(first)[0] == "OrderReplaced"
    assert kinds(again) == ["DuplicateClientOrder", "OrderReplaced"]
    assert [(o.order_id, o.price_ticks) for o in v.l3("AAA")] == [(2, 97)]


def test_a_full_table_still_answers_repeats_and_frees_at_the_session_end() -> None:
    v = venue(max_client_orders=2)
    v.send(order(v, 1, 1))
    v.send(order(v, 2, 2))
    full = v.send(order(v, 3, 3))
    assert isinstance(full[0], OrderRejected)
    assert full[0].reason == RejectReason.CLIENT_ORDER_IDS_FULL
    assert kinds(v.send(order(v, 1, 1)))[0] == "DuplicateClientOrder"
    assert v.send(order(v, 9, 1))[0].reason == RejectReason.DUPLICATE_CLIENT_ORDER_ID  # type: ignore[union-attr]
    v.end_session("BBB")  # another symbol's session: frees nothing of AAA's
    assert isinstance(v.send(order(v, 3, 3))[0], OrderRejected)
    v.end_session("AAA")
    assert v.client_orders == 0
    assert kinds(v.send(order(v, 3, 3)))[0] == "OrderAccepted"


CHILD = r"""
import os, signal, sys
from whistle import Venue
from whistle.core.commands import NewOrder
data, hosts, phase = sys.argv[1], int(sys.argv[2]), sys.argv[3]
v = Venue(data_dir=data, hosts=hosts, checkpoint_every=3)
if not v.is_registered("AAA"):
    v.add_instrument("AAA", tick_size="1", lot_size="1")
    v.add_instrument("BBB", tick_size="1", lot_size="1")
sid = v.instrument("AAA").symbol_id
def order(oid, coid, price):
    return NewOrder(sid, oid, 1, 1, 1, 1, price, 10, 0, 0, False, 0, 0, 0, coid)
def resend():
    out = [type(v.send(order(k, k, 90 + k))[0]).__name__ for k in range(1, 8)]
    out.append(type(v.send(order(50, 50, 80))[0]).__name__)
    out.append(type(v.send(order(51, 51, 81))[0]).__name__)
    out.append(type(v.replace("AAA", 1, account=1, price_ticks=70, qty_lots=10,
                              client_order_id=60)[0]).__name__)
    return out
if phase == "first":
    for k in range(1, 8):
        v.send(order(k, k, 90 + k))
    v.end_session("BBB")
    v.enqueue(order(50, 50, 80))
    v.tick()
    v.checkpoint()
    v.enqueue(order(51, 51, 81))  # journaled after the checkpoint, its tick never runs
    v.replace("AAA", 1, account=1, price_ticks=70, qty_lots=10, client_order_id=60)
    os.kill(os.getpid(), signal.SIGKILL)
out = resend()
print(" ".join(out))
book = sorted((o.order_id, o.price_ticks) for o in v.l3("AAA"))
print(" ".join(f"{oid}:{price}" for oid, price in book))
print(v.client_orders_hash())
v.stop()
"""


@pytest.mark.parametrize("hosts", [0, 1])
def test_sigkill_after_a_checkpoint_with_pending_ids_then_resend_everything(
    tmp_path: Path, hosts: int
) -> None:
    data = tmp_path / "v"
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    args = [sys.executable, "-c", CHILD, str(data), str(hosts)]
    first = subprocess.run([*args, "first"], capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode == -signal.SIGKILL, first.stderr
    second = subprocess.run([*args, "again"], capture_output=True, text=True, env=env, timeout=120)
    assert second.returncode == 0, second.stderr
    answers, book, table_hash = second.stdout.splitlines()
    assert answers.split() == ["DuplicateClientOrder"] * 10
    assert book.split() == [
        "2:92",
        "3:93",
        "4:94",
        "5:95",
        "6:96",
        "7:97",
        "50:80",
        "51:81",
        "52:70",
    ]
    keys = journal_keys(data)
    assert sorted(coid for _account, coid in keys) == [1, 2, 3, 4, 5, 6, 7, 50, 51, 60]
    assert set(keys.values()) == {1}
    assert replay(data).client_orders_hash == table_hash
