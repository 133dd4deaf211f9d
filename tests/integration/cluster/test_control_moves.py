"""The DBOS move workflow and the ShardKeeper on a real PostgreSQL.

Attacks: a move on request while the old holder keeps its lease (the new node gets the
shard only after the old one stopped), the same move asked for twice at once (one
workflow, one reassignment), a node that stops heartbeating (its shards move to the
survivor, which acquires them with higher tokens), and the process running a move being
SIGKILLed in the middle (a survivor adopts the pending workflow and finishes it without
repeating the steps already done).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading

from control_support import PG_URL, plane_factory, wait_for
from dbos import DBOS

from whistle.cluster.control import Lease, ShardKeeper


def test_move_on_request_waits_for_the_old_holder() -> None:
    with plane_factory(shards=2, lease_s=30.0, safety_s=1.0) as make:
        cp = make()
        cp.launch("tester")
        cp.join("a")
        cp.join("b")
        old = cp.acquire(0, "a")
        assert old is not None
        workflow_id = cp.move(0, "b")
        assert workflow_id == "shard-0-move-0"
        wait_for(lambda: cp.lease_info(0).revoked, what="the revoke step")
        info = cp.lease_info(0)
        assert (info.assigned, info.holder, info.generation) == ("b", "a", 1)
        assert cp.renew(old) is None  # the old holder learns it lost the shard
        assert cp.acquire(0, "b") is None  # not before the old lease has ended
        cp.release(old)  # the old holder stopped
        new = cp.acquire(0, "b")
        assert new is not None
        assert new.token == old.token + 1
        result = cp.wait_move(workflow_id)
        assert (result.outcome, result.from_node, result.to_node, result.token) == (
            "taken",
            "a",
            "b",
            new.token,
        )
        [record] = cp.moves()
        assert record["workflow_id"] == workflow_id
        assert record["outcome"] == "taken"


def test_the_same_move_twice_at_once_is_one_workflow() -> None:
    with plane_factory(shards=1, lease_s=30.0, safety_s=1.0) as make:
        cp = make()
        cp.launch("tester")
        cp.join("a")
        cp.join("b")
        cp.assign(0, "a")
        ids: list[str] = []
        barrier = threading.Barrier(3)

        def move() -> None:
            barrier.wait()
            ids.append(cp.move(0, "b"))

        threads = [threading.Thread(target=move) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert ids == ["shard-0-move-0"] * 3
        # nobody held it: b takes it as soon as the move reassigned it
        wait_for(lambda: cp.acquire(0, "b"), what="b acquiring")
        assert cp.wait_move(ids[0]).outcome == "taken"
        assert cp.lease_info(0).generation == 1
        assert len(cp.moves()) == 1


def test_dead_node_shards_move_to_the_survivor() -> None:
    options = {"shards": 4, "lease_s": 1.2, "safety_s": 0.3, "node_timeout_s": 1.0}
    with plane_factory(**options) as make:
        pa, pb = make(), make()
        pb.launch("b")
        pa.join("a")
        pa.join("b")
        for shard, node in [(0, "a"), (1, "a"), (2, "b"), (3, "b")]:
            pa.assign(shard, node)
        events: list[tuple[str, str, int, int]] = []
        lock = threading.Lock()

        def acquired(node: str) -> object:
            def on(lease: Lease) -> None:
                with lock:
                    events.append(("acquired", node, lease.shard, lease.token))

            return on

        def lost(node: str) -> object:
            def on(shard: int) -> None:
                with lock:
                    events.append(("lost", node, shard, 0))

            return on

        ka = ShardKeeper(
            pa, "a", interval_s=0.2, supervise=False, on_acquired=acquired("a"), on_lost=lost("a")
        )
        kb = ShardKeeper(pb, "b", interval_s=0.2, on_acquired=acquired("b"), on_lost=lost("b"))
        ka.start()
        kb.start()
        try:
            assert sorted(ka.held()) == [0, 1]
            assert sorted(kb.held()) == [2, 3]
            ka.stop(release=False)  # a dies: no more heartbeats, its leases run out
            wait_for(lambda: sorted(kb.held()) == [0, 1, 2, 3], what="b taking a's shards")
            assert kb.errors == 0, kb.last_error
            for shard in (0, 1):
                lease = kb.lease(shard)
                assert lease is not None
                assert lease.token == 2
                assert pb.valid(lease)
            assert not [e for e in events if e[0] == "lost"]
            moves = pb.moves()
            assert sorted((m["shard"], m["from_node"], m["to_node"]) for m in moves) == [
                (0, "a", "b"),
                (1, "a", "b"),
            ]
            wait_for(lambda: all(m["outcome"] == "taken" for m in pb.moves()), what="moves done")
            assert {n.node: n.up for n in pb.nodes()} == {"a": False, "b": True}
        finally:
            ka.stop()
            kb.stop()


def test_keeper_gives_up_a_shard_moved_away_before_the_new_node_takes_it() -> None:
    options = {"shards": 2, "lease_s": 5.0, "safety_s": 1.0, "node_timeout_s": 5.0}
    with plane_factory(**options) as make:
        pa, pb = make(), make()
        pb.launch("b")
        pa.join("a")
        pa.assign(0, "a")
        order: list[str] = []
        ka = ShardKeeper(pa, "a", interval_s=0.2, on_lost=lambda s: order.append(f"a lost {s}"))
        kb = ShardKeeper(
            pb, "b", interval_s=0.2, on_acquired=lambda lease: order.append(f"b got {lease.shard}")
        )
        ka.start()
        kb.start()
        try:
            old = ka.lease(0)
            assert old is not None
            workflow_id = pb.move(0, "b")
            # a's keeper releases on its own (long before the 5 s expiry)
            result = pb.wait_move(workflow_id, timeout_s=30)
            assert result.outcome == "taken"
            assert result.token == old.token + 1
            wait_for(lambda: "b got 0" in order, what="b's on_acquired")
            assert order == ["a lost 0", "b got 0"]
            assert not pa.valid(old)
            assert ka.lease(0) is None
        finally:
            ka.stop()
            kb.stop()


CRASHER = """
import sys, time
from whistle.cluster.control import ControlPlane
cp = ControlPlane(sys.argv[1], schema=sys.argv[2], shards=2, lease_s=30.0, safety_s=1.0,
                  node_timeout_s=1.0)
cp.join("x")
cp.launch("x")
print(cp.move(0, "b"), flush=True)
time.sleep(120)
"""


def test_move_resumes_on_a_survivor_after_its_process_is_killed() -> None:
    options = {"shards": 2, "lease_s": 30.0, "safety_s": 1.0, "node_timeout_s": 1.0}
    with plane_factory(**options) as make:
        cp = make()
        cp.join("a")
        cp.join("b")
        old = cp.acquire(0, "a")
        assert old is not None
        proc = subprocess.Popen(
            [sys.executable, "-c", CRASHER, PG_URL, cp.schema],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            workflow_id = proc.stdout.readline().strip()
            assert workflow_id == "shard-0-move-0"
            wait_for(lambda: cp.lease_info(0).revoked, what="the crasher's revoke step")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        cp.launch("survivor")
        status = DBOS.get_workflow_status(workflow_id)
        assert status is not None
        assert (status.status, status.executor_id) == ("PENDING", "x")

        def adopted() -> bool:
            cp.heartbeat("a")
            cp.heartbeat("b")
            cp.supervise()  # marks x down once its heartbeat is 1 s old, adopts its move
            st = DBOS.get_workflow_status(workflow_id)
            return st is not None and st.executor_id == "survivor"

        wait_for(adopted, what="the survivor adopting the move")
        assert cp.acquire(0, "b") is None  # the old lease still blocks
        cp.release(old)
        new = wait_for(lambda: cp.acquire(0, "b"), what="b acquiring")
        result = cp.wait_move(workflow_id)
        assert (result.outcome, result.from_node, result.token) == ("taken", "a", new.token)
        assert cp.lease_info(0).generation == 1  # the reassignment ran once
        [record] = cp.moves()
        assert record["outcome"] == "taken"


def test_move_interrupted_by_shutdown_resumes_when_the_executor_launches_again() -> None:
    with plane_factory(shards=1, lease_s=30.0, safety_s=1.0) as make:
        cp = make()
        cp.join("a")
        cp.join("b")
        old = cp.acquire(0, "a")
        assert old is not None
        cp.launch("n1")
        workflow_id = cp.move(0, "b")
        wait_for(lambda: cp.lease_info(0).revoked, what="the revoke step")
        cp.shutdown()  # the wait step is interrupted: nothing recorded for it
        assert not cp.launched
        cp.release(old)
        assert cp.acquire(0, "b") is not None
        cp.launch("n1")  # DBOS recovers n1's pending workflow at launch
        result = cp.wait_move(workflow_id)
        assert (result.outcome, result.token) == ("taken", old.token + 1)
        assert cp.lease_info(0).generation == 1


def test_supervise_waits_for_a_node_that_has_not_joined_yet() -> None:
    with plane_factory(shards=2, lease_s=5.0, safety_s=1.0, node_timeout_s=1.0) as make:
        cp = make()
        cp.launch("b")
        cp.join("b")
        cp.assign(0, "late")  # cluster up assigns before the node has started
        assert cp.supervise() == []  # within the grace: the shard waits for its node
        assert cp.lease_info(0).assigned == "late"
        cp.join_grace_s = 0.3
        moved = wait_for(lambda: (cp.heartbeat("b"), cp.supervise())[1], what="a move")
        assert moved == ["shard-0-move-0"]
        wait_for(lambda: cp.lease_info(0).assigned == "b", what="the reassignment")


def test_plan_rebalance_evens_out_the_up_members() -> None:
    with plane_factory(shards=7) as make:
        cp = make()
        for n in ("a", "b", "c"):
            cp.join(n)
        for shard in range(7):
            cp.assign(shard, "a")
        plan = cp.plan_rebalance()
        assert plan == [(6, "b"), (5, "c"), (4, "b"), (3, "c")]
        assert cp.plan_rebalance() == plan  # a plan, not a change
        cp.leave("c")  # a down member gets nothing
        assert cp.plan_rebalance() == [(6, "b"), (5, "b"), (4, "b")]
