"""SymbolCoordinator: activation, eviction, faults, hosts, determinism."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from coord_fakes import FakeHost, inst

from whistle.coord.errors import (
    CoordError,
    HostError,
    InvalidTransition,
    SymbolEvicted,
    SymbolNotRegistered,
)
from whistle.coord.runtime.coordinator import ReadyAtTick, SymbolCoordinator
from whistle.coord.runtime.lifecycle import SymbolFaulted, SymbolState, Trigger
from whistle.coord.runtime.placement import (
    HashBasedPolicy,
    HostLoad,
    LeastLoadedPolicy,
    PlacementPolicy,
    RoundRobinPolicy,
)
from whistle.coord.runtime.registry import DuplicateSymbol, SymbolRegistry

if TYPE_CHECKING:
    from collections.abc import Sequence


def make(n_hosts: int = 2, policy: PlacementPolicy | None = None):
    hosts = [FakeHost(h) for h in range(1, n_hosts + 1)]
    coord = SymbolCoordinator(hosts, policy or RoundRobinPolicy())
    return coord, hosts


def adds(host: FakeHost) -> list[object]:
    return [arg for name, arg in host.calls if name == "add"]


# ---------------------------------------------------------------------- construction


def test_constructor_checks():
    with pytest.raises(CoordError, match="at least one"):
        SymbolCoordinator([], RoundRobinPolicy())
    with pytest.raises(CoordError, match="share host_id 1"):
        SymbolCoordinator([FakeHost(1), FakeHost(1)], RoundRobinPolicy())
    reg = SymbolRegistry()
    reg.register(inst("A", 1))
    reg.transition(1, Trigger.ACTIVATE)
    with pytest.raises(CoordError, match="ACTIVE or EVICTING"):
        SymbolCoordinator([FakeHost(1)], RoundRobinPolicy(), reg)


def test_adopts_a_registry_of_registered_symbols():
    reg = SymbolRegistry()
    reg.register(inst("A", 1))
    coord = SymbolCoordinator([FakeHost(1)], RoundRobinPolicy(), reg)
    assert coord.registry is reg
    assert coord.ensure_active(1).host_id == 1


def test_register_duplicate():
    coord, _ = make()
    coord.register(inst("A", 1))
    with pytest.raises(DuplicateSymbol):
        coord.register(inst("A", 2))


# ---------------------------------------------------------------------- ensure_active


def test_cold_activation():
    coord, (h1, h2) = make()
    coord.register(inst("A", 10))
    coord.update_tick(5)
    ready = coord.ensure_active(10)
    assert ready == ReadyAtTick(10, 5, 1, False)
    assert adds(h1) == [(10, b"")]
    assert adds(h2) == []
    entry = coord.registry.get(10)
    assert entry.state is SymbolState.ACTIVE
    assert entry.host_id == 1
    assert entry.activated_at_tick == 5
    assert entry.last_activity_tick == 5
    assert coord.host_of(10) is h1
    assert coord.loads() == [HostLoad(1, 1, 0), HostLoad(2, 0, 0)]


def test_already_active_returns_the_same_answer_without_host_calls():
    coord, (h1, _) = make()
    coord.register(inst("A", 10))
    first = coord.ensure_active(10)
    calls = len(h1.calls)
    coord.update_tick(9)
    for _ in range(3):
        assert coord.ensure_active(10) is first
    assert len(h1.calls) == calls
    assert coord.stats().cold_activations == 1


def test_unregistered():
    coord, _ = make()
    with pytest.raises(SymbolNotRegistered, match="99"):
        coord.ensure_active(99)
    with pytest.raises(SymbolNotRegistered):
        coord.host_of(99)
    with pytest.raises(SymbolNotRegistered):
        coord.touch(99)
    assert not coord.is_faulted(99)


def test_evicting_symbol_is_refused_until_evicted_then_warm_restarts():
    coord, (h1, h2) = make()
    coord.register(inst("A", 10))
    coord.ensure_active(10)
    coord.start_eviction(10)
    with pytest.raises(SymbolEvicted, match="being evicted"):
        coord.ensure_active(10)
    assert coord.host_of(10) is h1  # the engine still exists while draining
    assert coord.finish_eviction(10) == b"snap-10"
    entry = coord.registry.get(10)
    assert entry.state is SymbolState.EVICTED
    assert entry.snapshot == b"snap-10"
    assert entry.host_id is None
    with pytest.raises(SymbolEvicted, match="evicted"):
        coord.host_of(10)
    coord.update_tick(4)
    ready = coord.ensure_active(10)  # round robin: second placement goes to host 2
    assert ready == ReadyAtTick(10, 4, 2, True)
    assert adds(h2) == [(10, b"snap-10")]
    assert entry.snapshot == b""  # the engine holds the state now
    assert entry.activations == 2
    stats = coord.stats()
    assert (stats.cold_activations, stats.warm_activations, stats.evictions) == (1, 1, 1)


def test_finish_eviction_needs_start_eviction():
    coord, _ = make()
    coord.register(inst("A", 10))
    coord.ensure_active(10)
    with pytest.raises(SymbolEvicted, match="not EVICTING"):
        coord.finish_eviction(10)
    coord.register(inst("B", 11))
    with pytest.raises(InvalidTransition):
        coord.start_eviction(11)  # REGISTERED


def test_host_failure_on_add_leaves_the_symbol_as_it_was():
    coord, (h1, _) = make(policy=LeastLoadedPolicy())
    coord.register(inst("A", 10))
    h1.fail_add = True
    with pytest.raises(HostError, match="refused add_engine"):
        coord.ensure_active(10)
    entry = coord.registry.get(10)
    assert entry.state is SymbolState.REGISTERED
    assert entry.host_id is None
    assert coord.loads() == [HostLoad(1, 0), HostLoad(2, 0)]
    h1.fail_add = False
    assert coord.ensure_active(10).host_id == 1


def test_a_policy_choosing_a_non_live_host_is_an_error():
    class Bad(PlacementPolicy):
        def choose(self, symbol_id: int, hosts: Sequence[HostLoad]) -> int:
            return 77

    coord, _ = make(policy=Bad())
    coord.register(inst("A", 10))
    with pytest.raises(CoordError, match="chose host 77"):
        coord.ensure_active(10)
    assert coord.registry.get(10).state is SymbolState.REGISTERED


def test_host_of_a_registered_symbol():
    coord, _ = make()
    coord.register(inst("A", 10))
    with pytest.raises(CoordError, match="REGISTERED, not active"):
        coord.host_of(10)


# ---------------------------------------------------------------------- idleness


def test_touch_and_release_if_idle():
    coord, (h1, _) = make()
    coord.register(inst("A", 10))
    coord.ensure_active(10)
    coord.update_tick(3)
    coord.touch(10)
    assert coord.registry.get(10).last_activity_tick == 3
    assert coord.loads()[0].commands == 1
    coord.update_tick(7)
    assert not coord.release_if_idle(10, 5)  # idle 4 ticks
    coord.update_tick(8)
    assert coord.release_if_idle(10, 5)  # idle 5 ticks
    assert ("remove", 10) in h1.calls
    assert coord.registry.get(10).state is SymbolState.EVICTED
    assert not coord.release_if_idle(10, 0)  # not active any more
    with pytest.raises(ValueError, match="idle_ticks"):
        coord.release_if_idle(10, -1)
    with pytest.raises(SymbolNotRegistered):
        coord.release_if_idle(99, 1)


def test_release_if_idle_on_a_registered_symbol_does_nothing():
    coord, _ = make()
    coord.register(inst("A", 10))
    assert not coord.release_if_idle(10, 0)


def test_activation_counts_as_activity():
    coord, _ = make()
    coord.register(inst("A", 10))
    coord.update_tick(100)
    coord.ensure_active(10)
    assert not coord.release_if_idle(10, 1)


def test_release_idle_sweeps_in_symbol_order():
    coord, hosts = make()
    for sid in (30, 10, 20, 40):
        coord.register(inst(f"S{sid}", sid))
        coord.ensure_active(sid)
    coord.update_tick(10)
    coord.touch(20)
    assert coord.release_idle(5) == [10, 30, 40]
    removed = [arg for h in hosts for name, arg in h.calls if name == "remove"]
    assert sorted(removed) == [10, 30, 40]
    assert coord.registry.get(20).state is SymbolState.ACTIVE
    with pytest.raises(ValueError, match="idle_ticks"):
        coord.release_idle(-1)


def test_release_keeps_a_symbol_holding_live_gtd_orders():
    # An evicted engine is not ticked, so its GTD orders would never expire.
    coord, hosts = make()
    for sid in (10, 20):
        coord.register(inst(f"S{sid}", sid))
        coord.ensure_active(sid)
    coord.host_of(10).gtd[10] = 1  # type: ignore[attr-defined]
    coord.update_tick(10)
    assert not coord.release_if_idle(10, 5)
    assert coord.release_idle(5) == [20]
    assert coord.registry.get(10).state is SymbolState.ACTIVE
    coord.host_of(10).gtd[10] = 0  # type: ignore[attr-defined]
    assert coord.release_if_idle(10, 5)
    assert not any(name == "remove" and arg == 10 for name, arg in hosts[1].calls)


@pytest.mark.parametrize("sweep", [True, False])
def test_an_idle_symbol_with_a_resting_gtd_order_still_expires_it_as_replay_does(tmp_path, sweep):
    from whistle import Venue
    from whistle.coord.durability.replay import replay

    data = tmp_path / "venue"
    venue = Venue(data_dir=data, checkpoint_every=7)
    venue.add_instrument("X", tick_size="1", lot_size="1")
    venue.add_instrument("Y", tick_size="1", lot_size="1")
    x = venue.instrument("X").symbol_id
    venue.submit("X", "buy", qty_lots=1, price_ticks=10, tif="GTD", expire_ts_ns=1000)
    venue.advance(10)
    venue.advance(10)
    if sweep:
        assert venue.release_idle(1) == []
    else:
        assert not venue.coordinator.release_if_idle(x, 1)
    assert venue.coordinator.registry.get(x).state is SymbolState.ACTIVE
    venue.advance(2000)
    venue.advance(1)
    assert venue.coordinator.release_idle(0) == [x]  # expired: nothing timed is left
    hashes = venue.state_hashes()
    venue.stop()
    report = replay(data)
    assert report.ok, report.mismatches
    assert report.state_hashes == hashes


def test_update_tick_never_goes_backwards():
    coord, _ = make()
    coord.update_tick(5)
    coord.update_tick(5)
    with pytest.raises(ValueError, match="backwards"):
        coord.update_tick(4)
    assert coord.tick == 5


# ---------------------------------------------------------------------- faults


def test_mark_host_dead_faults_its_symbols_and_fences_the_host():
    coord, _ = make()
    for sid in (1, 2, 3, 4):
        coord.register(inst(f"S{sid}", sid))
        coord.ensure_active(sid)  # round robin: 1,3 -> host 1; 2,4 -> host 2
    assert coord.mark_host_dead(1, "heartbeat stale") == [1, 3]
    assert coord.mark_host_dead(1, "again") == []
    for sid in (1, 3):
        assert coord.is_faulted(sid)
        entry = coord.registry.get(sid)
        assert entry.state is SymbolState.EVICTED
        assert entry.fault == "host 1 died: heartbeat stale"
        with pytest.raises(SymbolFaulted, match="heartbeat stale") as info:
            coord.ensure_active(sid)
        assert info.value.cause == "host 1 died: heartbeat stale"
        with pytest.raises(SymbolFaulted):
            coord.host_of(sid)
    assert not coord.is_faulted(2)
    assert coord.ensure_active(2).host_id == 2
    assert coord.dead_hosts() == {1: "heartbeat stale"}
    assert coord.loads() == [HostLoad(2, 2, 0)]
    # New symbols go to live hosts only.
    coord.register(inst("S5", 5))
    assert coord.ensure_active(5).host_id == 2
    stats = coord.stats()
    assert stats.faulted == 2
    assert stats.live_hosts == [2]
    assert stats.by_state == {"REGISTERED": 0, "ACTIVE": 3, "EVICTING": 0, "EVICTED": 2}
    with pytest.raises(CoordError, match="unknown host_id 9"):
        coord.mark_host_dead(9, "?")


def test_clear_fault_restarts_from_the_chosen_snapshot_on_a_live_host():
    coord, (h1, h2) = make(policy=HashBasedPolicy())
    coord.register(inst("S1", 1))
    host_id = coord.ensure_active(1).host_id
    coord.mark_host_dead(host_id, "exit code -9")
    coord.clear_fault(1, b"recovered")
    assert not coord.is_faulted(1)
    ready = coord.ensure_active(1)
    assert ready.warm
    assert ready.host_id != host_id
    survivor = h2 if host_id == 1 else h1
    assert adds(survivor) == [(1, b"recovered")]
    with pytest.raises(CoordError, match="not faulted"):
        coord.clear_fault(1, b"")


def test_every_host_dead():
    coord, _ = make()
    coord.register(inst("A", 10))
    coord.mark_host_dead(1, "x")
    coord.mark_host_dead(2, "y")
    with pytest.raises(HostError, match="every engine host is dead"):
        coord.ensure_active(10)


def test_mark_faulted_keeps_the_engine_for_a_post_mortem():
    coord, (h1, _) = make()
    coord.register(inst("A", 10))
    coord.ensure_active(10)
    coord.mark_faulted(10, "EngineFaulted: boom")
    assert coord.is_faulted(10)
    with pytest.raises(SymbolFaulted, match="boom"):
        coord.ensure_active(10)
    assert coord.host_of(10) is h1
    assert not coord.release_if_idle(10, 0)  # a faulted symbol is not swept
    with pytest.raises(CoordError, match="evict it before"):
        coord.clear_fault(10, b"")
    assert coord.evict(10) == b"snap-10"
    coord.clear_fault(10, b"")
    assert coord.ensure_active(10).warm is False


def test_remove_engine_failure_faults_the_symbol():
    coord, (h1, _) = make()
    coord.register(inst("A", 10))
    coord.ensure_active(10)
    h1.fail_remove = True
    with pytest.raises(HostError, match="died during remove_engine"):
        coord.evict(10)
    entry = coord.registry.get(10)
    assert entry.state is SymbolState.EVICTED
    assert entry.host_id is None
    assert coord.is_faulted(10)
    assert "remove_engine failed on host 1" in (entry.fault or "")
    assert coord.loads()[0].active == 0


# ---------------------------------------------------------------------- determinism


@pytest.mark.parametrize("policy", [RoundRobinPolicy, HashBasedPolicy, LeastLoadedPolicy])
def test_same_calls_same_placements(policy):
    def run() -> list[tuple[str, object]]:
        coord, hosts = make(3, policy())
        for sid in (17, 3, 99, 42, 5, 8):
            coord.register(inst(f"S{sid}", sid))
        for sid in (99, 3, 17):
            coord.ensure_active(sid)
        coord.evict(3)
        for sid in (42, 5, 3, 8):
            coord.ensure_active(sid)
        coord.mark_host_dead(hosts[0].host_id, "gone")
        return [(f"h{h.host_id}", c) for h in hosts for c in h.calls]

    assert run() == run()


def test_hosts_and_host_lookup():
    coord, (h1, h2) = make()
    assert coord.hosts == [h1, h2]
    assert coord.host(2) is h2
    with pytest.raises(CoordError, match="unknown host_id 3"):
        coord.host(3)
