"""The coordinator over real ``InProcessHost`` engines: a warm restart keeps the book."""

from __future__ import annotations

from whistle.coord.hosts.local import InProcessHost
from whistle.coord.runtime.coordinator import SymbolCoordinator
from whistle.coord.runtime.placement import LeastLoadedPolicy
from whistle.coord.runtime.registry import SymbolRegistry
from whistle.core.commands import NewOrder
from whistle.core.enums import OrderType, Side, TimeInForce
from whistle.core.instrument import Instrument


def test_evict_and_warm_restart_on_another_host_keeps_the_engine_state():
    hosts = [InProcessHost(1), InProcessHost(2)]
    coord = SymbolCoordinator(hosts, LeastLoadedPolicy(), SymbolRegistry())
    aapl = Instrument(symbol="AAPL", symbol_id=1)
    msft = Instrument(symbol="MSFT", symbol_id=2)
    coord.register(aapl)
    coord.register(msft)
    assert coord.ensure_active(1).host_id == 1
    assert coord.ensure_active(2).host_id == 2
    host = coord.host_of(1)
    order = NewOrder(
        symbol_id=1,
        order_id=7,
        account=1,
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        tif=TimeInForce.GTC,
        price_ticks=18725,
        qty_lots=100,
    )
    assert host.submit(1, order)
    coord.touch(1)
    tick_id = host.begin_tick(1_000)
    assert host.end_tick(tick_id)  # accepted + market data
    before = hosts[0].engine(1).state_hash()

    snapshot = coord.evict(1)
    assert snapshot
    assert 1 not in hosts[0].symbols
    # Host 1 is now the least loaded: make host 2 less loaded so the restart moves.
    coord.evict(2)
    coord.register(Instrument(symbol="IBM", symbol_id=3))
    assert coord.ensure_active(3).host_id == 1
    ready = coord.ensure_active(1)
    assert ready.warm
    assert ready.host_id == 2
    assert hosts[1].engine(1).state_hash() == before
    assert hosts[1].engine(1).depth(1).bids[0].price_ticks == 18725
