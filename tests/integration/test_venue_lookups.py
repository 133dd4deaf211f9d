"""Venue lookups (issue 8 item 3): one order by id, all-level depth, per-side counts, reject
words; the same answers in process and with the engines on a host process."""

from __future__ import annotations

import pytest

from whistle.coord import Venue
from whistle.core.events import OrderRejected
from whistle.core.reasons import RejectReason
from whistle.engine import OrderInfo


@pytest.fixture(params=[0, 1], ids=["in-process", "host-process"])
def venue(request):
    with Venue(hosts=request.param) as v:
        v.add_instrument("AAA", tick_size="1", lot_size="1")
        v.add_instrument("BBB", tick_size="1", lot_size="1")
        yield v


def test_an_order_by_id_says_price_side_quantities_queue_and_time(venue):
    venue.advance(1_000)
    venue.submit("AAA", "buy", qty_lots=5, price_ticks=100, order_id=1, account=7)
    venue.advance(1_000)
    venue.submit("AAA", "buy", qty_lots=3, price_ticks=100, order_id=2, account=8)
    venue.submit("AAA", "sell", qty_lots=2, price_ticks=100, order_id=3, account=9)  # fills 1
    first = venue.order("AAA", 1)
    second = venue.order("AAA", 2)
    assert isinstance(first, OrderInfo)
    assert (first.side, first.price_ticks, first.account) == (1, 100, 7)
    assert (first.leaves_qty_lots, first.filled_qty_lots, first.original_qty_lots) == (3, 2, 5)
    assert (first.queue_position, first.queue_ahead_lots, first.entry_ts_ns) == (1, 0, 1_000)
    assert (second.queue_position, second.queue_ahead_lots) == (2, 3)
    assert (second.leaves_qty_lots, second.filled_qty_lots, second.entry_ts_ns) == (3, 0, 2_000)
    assert venue.order("AAA", 3) is None  # filled whole: not live
    assert venue.order("AAA", 99) is None
    assert venue.order("BBB", 1) is None  # ids are per symbol
    venue.cancel("AAA", 1)
    assert venue.order("AAA", 1) is None
    assert venue.order("AAA", 2).queue_position == 1


def test_an_order_lookup_refuses_what_is_not_an_order_id(venue):
    with pytest.raises(TypeError):
        venue.order("AAA", "1")
    with pytest.raises(TypeError):
        venue.order("AAA", True)


def test_depth_of_every_level_and_orders_per_side(venue):
    for i in range(30):
        venue.submit("AAA", "buy", qty_lots=1 + i % 3, price_ticks=1_000 - i, order_id=1 + i)
    for i in range(12):
        venue.submit("AAA", "sell", qty_lots=2, price_ticks=2_000 + i // 2, order_id=100 + i)
    everything = venue.depth("AAA", None)
    assert len(everything.bids) == 30
    assert len(everything.asks) == 6
    assert [lv.price_ticks for lv in everything.bids] == [1_000 - i for i in range(30)]
    assert [lv.order_count for lv in everything.asks] == [2] * 6
    assert sum(lv.qty_lots for lv in everything.bids) == sum(1 + i % 3 for i in range(30))
    assert venue.depth("AAA").bids == everything.bids[:10]  # default: 10 levels
    assert venue.depth("AAA", 3).asks == everything.asks[:3]
    status = venue.status("AAA")
    assert (status.bid_orders, status.ask_orders, status.resting_orders) == (30, 12, 42)
    assert (venue.status("BBB").bid_orders, venue.status("BBB").ask_orders) == (0, 0)
    with pytest.raises(ValueError):
        venue.depth("AAA", 0)


def test_reject_words_for_engine_and_edge_rejects(venue):
    venue.submit("AAA", "buy", qty_lots=1, price_ticks=100, order_id=1)
    (dup,) = venue.submit("AAA", "buy", qty_lots=1, price_ticks=101, order_id=1)
    assert isinstance(dup, OrderRejected)
    assert dup.seq > 0
    assert dup.reason == RejectReason.DUPLICATE_ORDER_ID
    assert dup.detail_code
    text = Venue.reject_text(dup)
    assert text.startswith(RejectReason.DUPLICATE_ORDER_ID.description)
    assert ": " in text
    (edge,) = venue.submit("AAA", "buy", qty_lots=1, price_ticks=100.5, order_id=2)
    assert isinstance(edge, OrderRejected)
    assert edge.seq == 0
    assert venue.reject_text(edge) == RejectReason.of(edge.reason).description
    assert "price" in venue.last_reject_detail
