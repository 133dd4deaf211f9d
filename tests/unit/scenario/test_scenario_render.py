"""Rendering events and query results, and the runner's handling of errors."""

from __future__ import annotations

import msgspec
import pytest

from whistle.coord import Venue
from whistle.core import (
    BestBidOfferChanged,
    EngineFaulted,
    Instrument,
    OrderExpired,
    OrderFilled,
    OrderRejected,
)
from whistle.scenario import (
    ScenarioRunner,
    encode_line,
    render_depth,
    render_event,
    render_status,
    run_scenario,
)

BTC = Instrument(symbol="BTC", symbol_id=5, tick_size="0.5", lot_size="0.001")


def test_prices_quantities_and_enums() -> None:
    event = OrderFilled(5, 9, 4, 100, 7, 3, 1, 2, 128001, 250, 1750, 12)
    assert render_event(event, BTC) == {
        "event": "OrderFilled",
        "symbol": "BTC",
        "symbol_id": 5,
        "seq": 9,
        "enq_seq": 4,
        "ts_ns": 100,
        "order_id": 7,
        "account": 3,
        "side": "BUY",
        "liquidity": "TAKER",
        "price": "64000.5",
        "qty": "0.25",
        "leaves_qty": "1.75",
        "trade_id": 12,
    }


def test_key_order_and_bytes_are_stable() -> None:
    event = BestBidOfferChanged(5, 1, 1, 0, 2, 1000, 0, 0)
    line = encode_line(render_event(event, BTC))
    assert line == (
        b'{"event":"BestBidOfferChanged","symbol":"BTC","symbol_id":5,"seq":1,"enq_seq":1,'
        b'"ts_ns":0,"bid_price":"1","bid_qty":"1","ask_price":"0","ask_qty":"0"}\n'
    )


def test_expired_cause_and_out_of_range_enums() -> None:
    out = render_event(OrderExpired(5, 1, 0, 0, 1, 2, 3), BTC)
    assert out["cause"] == "EXPIRED"
    assert out["cancelled_qty"] == "0.003"
    assert render_event(OrderRejected(5, 1, 1, 0, 1, 2, 9999), BTC)["reason"] == 9999
    assert render_event(EngineFaulted(5, 1, 1, 0, "boom"), BTC)["detail"] == "boom"


def test_edge_reject_detail_and_unknown_symbol() -> None:
    reject = OrderRejected(0, 0, 0, 0, 1, 2, 1001)
    out = render_event(reject, None, symbol="NOPE", detail="unknown symbol 'NOPE'")
    assert out["symbol"] == "NOPE"
    assert out["reason"] == "UNKNOWN_SYMBOL"
    assert list(out)[-1] == "detail"
    # a sequenced reject never gets a detail
    assert "detail" not in render_event(OrderRejected(5, 3, 2, 0, 1, 2, 1004), BTC, detail="x")


def test_depth_and_status() -> None:
    venue = Venue()
    venue.add_instrument(BTC)
    venue.submit("BTC", "sell", "0.5", "64000.5", order_id=1)
    depth = render_depth(venue.depth("BTC", 3), BTC)
    assert depth == {
        "event": "Depth",
        "symbol": "BTC",
        "symbol_id": 5,
        "seq": 3,
        "bids": [],
        "asks": [{"price": "64000.5", "qty": "0.5", "order_count": 1}],
    }
    status = render_status(venue.status("BTC"), BTC)
    assert status["state"] == "ACTIVE"
    assert status["best_ask"] == "64000.5"
    assert status["best_ask_qty"] == "0.5"
    assert status["fault"] is None
    assert list(status)[:3] == ["event", "symbol", "symbol_id"]


SCRIPT = [
    '{"op":"define","symbol":"A","symbol_id":1}',
    "{oops",
    '{"op":"status","symbol":"A"}',
]


def test_runner_stop_and_continue() -> None:
    runner = ScenarioRunner()
    out = list(runner.run(SCRIPT))
    assert out == [{"event": "ScenarioError", "line": 2, "error": out[0]["error"]}]
    assert out[0]["error"].startswith("invalid JSON: ")
    assert runner.errors == 1
    runner = ScenarioRunner()
    out = list(runner.run(SCRIPT, on_error="continue"))
    assert [o["event"] for o in out] == ["ScenarioError", "Status"]
    assert runner.errors == 1


def test_runner_rejects_a_bad_mode() -> None:
    with pytest.raises(ValueError, match="on_error"):
        list(run_scenario([], on_error="ignore"))  # type: ignore[arg-type]


def test_runner_uses_a_given_venue_and_relative_expiry() -> None:
    venue = Venue(start_ns=1_000)
    lines = [
        '{"op":"define","symbol":"A","symbol_id":1}',
        '{"op":"new","symbol":"A","side":"buy","qty":"1","price":"1","tif":"gtd","expire_in":5}',
        '{"op":"advance","by":"5ns"}',
    ]
    out = list(run_scenario(lines, venue=venue))
    assert [o["event"] for o in out][-3:] == [
        "OrderExpired",
        "BookLevelChanged",
        "BestBidOfferChanged",
    ]
    assert out[-1]["ts_ns"] == 1_005
    assert msgspec.json.decode(encode_line(out[0]))["tif"] == "GTD"
