"""SIGKILL a venue in the middle of a burst of submits with client order ids, restart it,
resubmit every client order id the client sent (acknowledged or not): each order is in
the journal exactly once.

The child (this file run as a script) opens a durable venue on DIR and submits the
orders of ``order(k)`` for k = FROM.. (a deterministic command per client order id:
account, symbol, side, price, qty), half through ``submit`` (sequenced and ticked) and
half through ``enqueue`` with a tick every few commands, so kills land between a command's
journal append and its tick too. After each call returns it appends k to an ack file.
The parent kills it with SIGKILL after a seeded number of acknowledgements
(``WHISTLE_IDEM_KILLS`` times, default 3; with a host process half as many), restarts it
on the same directory in "resubmit" mode -- every k from 1 to the last one acknowledged
plus a few never sent -- and lets it go on with new ones, and at the end checks:

- the command journal holds exactly one ``Sequenced`` NewOrder per (account,
  client_order_id), for every k the client ever sent (acknowledged or not: an in-flight
  one is in at most once);
- every resubmission of an acknowledged k was answered with ``DuplicateClientOrder``
  naming the original enq_seq;
- ``whistle replay`` rebuilds the same books and client-order table as the recovered
  venue, with every check passing.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path

KILLS = int(os.environ.get("WHISTLE_IDEM_KILLS", "3"))
SEED = int(os.environ.get("WHISTLE_IDEM_SEED", "20261202"))
WAIT_S = 120.0
SYMBOLS = ("AAA", "BBB", "CCC")


def order_fields(k: int) -> dict[str, object]:
    """The one command the client means by client order id ``k``."""
    return {
        "symbol": SYMBOLS[k % 3],
        "side": "buy" if k % 2 else "sell",
        "qty_lots": 1 + k % 7,
        "price_ticks": 100 + (k * 7919) % 9 - 4,
        "account": 1 + k % 4,
        "client_order_id": k,
    }


# ---------------------------------------------------------------------------- the child


def child(data_dir: str, acks: str, start: int, resubmit_to: int, hosts: int) -> None:
    from whistle import Venue
    from whistle.core.commands import NewOrder
    from whistle.core.events import DuplicateClientOrder, OrderRejected

    venue = Venue(data_dir=data_dir, checkpoint_every=40, hosts=hosts)
    if not venue.symbols:
        for name in SYMBOLS:
            venue.add_instrument(name, tick_size="1", lot_size="1")
    print("ready", flush=True)
    with open(acks, "a", encoding="ascii") as out:

        def ack(k: int, how: str, original: int) -> None:
            out.write(f"{k} {how} {original}\n")
            out.flush()

        for k in range(1, resubmit_to + 1):
            fields = order_fields(k)
            sid = venue.instrument(str(fields["symbol"])).symbol_id
            oid = venue.next_order_id(sid)
            events = venue.submit(**fields)  # type: ignore[arg-type]
            first = events[0]
            if isinstance(first, DuplicateClientOrder):
                ack(k, "dup", first.original_enq_seq)
            elif isinstance(first, OrderRejected) and first.seq == 0:
                raise SystemExit(f"resubmission of {k} refused: {venue.last_reject_detail}")
            else:
                # The tick that runs this order also runs the commands recovery found
                # journaled but not yet ticked, whose events come first: take this order's
                # (order ids are per symbol).
                mine = [
                    e
                    for e in events
                    if e.symbol_id == sid and getattr(e, "order_id", None) == oid and e.enq_seq
                ]
                ack(k, "new", mine[0].enq_seq)
        k = max(start, resubmit_to + 1)
        while True:
            fields = order_fields(k)
            if k % 2:
                events = venue.submit(**fields)  # type: ignore[arg-type]
                ack(k, "new" if not isinstance(events[0], DuplicateClientOrder) else "dup", 0)
            else:
                sid = venue.instrument(str(fields["symbol"])).symbol_id
                held = venue.client_order(int(fields["account"]), k)  # type: ignore[call-overload]
                oid = held.order_id if held is not None else venue.next_order_id(sid)
                command = NewOrder(
                    sid,
                    oid,
                    fields["account"],  # type: ignore[arg-type]
                    1 if fields["side"] == "buy" else 2,
                    1,
                    1,
                    fields["price_ticks"],  # type: ignore[arg-type]
                    fields["qty_lots"],  # type: ignore[arg-type]
                    client_order_id=k,
                )
                result = venue.enqueue(command)
                assert not isinstance(result, OrderRejected), venue.last_reject_detail
                ack(k, "queued", result)
                if k % 6 == 0:
                    venue.tick()
            k += 1


# ---------------------------------------------------------------------------- the parent


class Run:
    def __init__(self, data: Path, acks: Path, start: int, resubmit_to: int, hosts: int) -> None:
        self.acks = acks
        self.proc = subprocess.Popen(
            [
                sys.executable,
                __file__,
                str(data),
                str(acks),
                str(start),
                str(resubmit_to),
                str(hosts),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )

    def wait_for_acks(self, count: int) -> None:
        deadline = time.monotonic() + WAIT_S
        while len(read_acks(self.acks)) < count:
            if self.proc.poll() is not None:
                raise AssertionError(f"the child ended: {self.proc.stderr.read()}")  # type: ignore[union-attr]
            if time.monotonic() > deadline:
                raise AssertionError("no progress")
            time.sleep(0.002)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(WAIT_S)
        self.proc.stdout.close()  # type: ignore[union-attr]
        self.proc.stderr.close()  # type: ignore[union-attr]


def read_acks(path: Path) -> list[tuple[int, str, int]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="ascii").splitlines():
        parts = line.split()
        if len(parts) == 3:  # a torn last line is no ack
            out.append((int(parts[0]), parts[1], int(parts[2])))
    return out


def journaled_orders(data: Path) -> Counter[tuple[int, int]]:
    from whistle.coord.durability.datadir import iter_records
    from whistle.coord.durability.records import Sequenced
    from whistle.core.commands import NewOrder

    counts: Counter[tuple[int, int]] = Counter()
    for record in iter_records(data):
        if isinstance(record, Sequenced) and isinstance(record.command, NewOrder):
            command = record.command
            assert command.client_order_id, command
            counts[(command.account, command.client_order_id)] += 1
    return counts


@pytest.mark.parametrize("hosts", [0, 1])
def test_sigkill_mid_burst_then_resubmitting_everything_enters_each_order_once(
    tmp_path: Path, hosts: int
) -> None:
    from whistle import Venue
    from whistle.coord.durability.replay import replay

    rng = random.Random(SEED + hosts)
    data = tmp_path / "data"
    kills = KILLS if hosts == 0 else max(1, KILLS // 2)
    sent = 0  # the largest k any run may have sent (acknowledged or in flight)
    acked: dict[int, int] = {}  # k -> acknowledged enq_seq (0: not known)
    dups = 0
    for round_ in range(kills + 1):
        acks = tmp_path / f"acks-{round_}"
        resubmit_to = sent + 3  # everything sent so far, and a few never sent
        run = Run(data, acks, resubmit_to + 1, resubmit_to, hosts)
        if round_ == kills:
            run.wait_for_acks(resubmit_to + 40)
        else:
            run.wait_for_acks(rng.randrange(resubmit_to // 2 + 1, resubmit_to + 300))
        run.kill()
        got = read_acks(acks)
        for k, how, original in got[:resubmit_to]:
            if k in acked:
                assert how == "dup", (k, how)  # acknowledged before: never entered again
                dups += 1
                if acked[k]:
                    assert original == acked[k]
        for k, how, original in got:
            if how in ("new", "queued") and original:
                acked.setdefault(k, original)
        sent = max(sent, max((k for k, _, _ in got), default=0) + 1)
        counts = journaled_orders(data)
        assert all(n == 1 for n in counts.values()), [k for k, n in counts.items() if n > 1]
        for k in acked:
            assert counts[(order_fields(k)["account"], k)] == 1, k  # type: ignore[index]
    assert dups > 0
    # Resubmit once more in this process, recover and replay.
    with Venue(data_dir=data) as venue:
        want = venue.client_orders_hash()
        for k in sorted(acked):
            events = venue.submit(**order_fields(k))  # type: ignore[arg-type]
            assert events[0].__class__.__name__ == "DuplicateClientOrder", k
        assert venue.client_orders_hash() == want
        # Commands recovery found journaled but not yet ticked run at the next tick (replay
        # runs them too): compare replay with the table after it.
        venue.tick()
        want = venue.client_orders_hash()
        hashes = venue.state_hashes()
    counts = journaled_orders(data)
    assert set(counts.values()) == {1}
    assert len(counts) >= len(acked)
    report = replay(data)
    assert report.ok, report
    assert report.client_orders_hash == want
    assert report.state_hashes == hashes


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
