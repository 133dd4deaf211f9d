"""R2: registry commands from the CLI's client must never be silently dropped.

An operator's `whistle orchestrator add` either takes effect, or says why not. A second
add of the same symbol with ANOTHER configuration (here: the durable engine instead of
the simple one) must be a clear conflict, never "queued"/"exists" followed by the first
configuration running: the operator would believe the pair's orders are exactly-once.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from whistle.orchestrator import Orchestrator, SymbolConflict
from whistle.orchestrator.config import validate_pair
from whistle.orchestrator.control import ControlClient
from whistle.orchestrator.database import resolve_url

if TYPE_CHECKING:
    from pathlib import Path

MM = "whistle.trading.examples:MarketMaker"


def test_a_different_add_queued_behind_another_is_a_conflict(tmp_path: Path) -> None:
    client = ControlClient(tmp_path, resolve_url(tmp_path))
    try:
        first = client.add(validate_pair("X2", MM, engine="simple"), wait_s=0)
        assert first["outcome"] == "queued"
        # The identical command again: the same queued command (idempotent).
        again = client.add(validate_pair("X2", MM, engine="simple"), wait_s=0)
        assert again["outcome"] == "queued"
        with pytest.raises(SymbolConflict):
            client.add(validate_pair("X2", MM, engine="durable"), wait_s=0)
    finally:
        client.close()


def test_the_cli_client_refuses_a_different_config_for_a_registered_symbol(
    tmp_path: Path,
) -> None:
    orch = Orchestrator(tmp_path)
    orch.start()
    try:
        assert orch.add_trading_pair("X3", MM, engine="simple")["outcome"] == "added"
        with pytest.raises(SymbolConflict):
            orch.add_trading_pair("X3", MM, engine="durable")
    finally:
        orch.stop()
    client = ControlClient(tmp_path, resolve_url(tmp_path))
    try:
        same = client.add(validate_pair("X3", MM, engine="simple"), wait_s=0)
        assert same["outcome"] == "exists"
        with pytest.raises(SymbolConflict):
            client.add(validate_pair("X3", MM, engine="durable"), wait_s=0)
    finally:
        client.close()


def test_a_bad_strategy_config_file_is_named(tmp_path: Path) -> None:
    from whistle.orchestrator import SymbolConfigError

    bad = tmp_path / "badkey.toml"
    bad.write_text("bogus = 1\n")
    with pytest.raises(SymbolConfigError) as info:
        validate_pair("X1", MM, bad)
    assert "bogus" in str(info.value)
    assert "badkey.toml" in str(info.value)


@pytest.mark.parametrize(
    ("params", "risk", "needle"),
    [
        ({"qty_lots": 0}, None, "qty_lots"),
        ({"half_spread_ticks": -3}, None, "half_spread_ticks"),
        ({"half_spread_ticks": "1"}, None, "half_spread_ticks"),
        (None, {"max_position": -5}, "max_position"),
        (None, {"max_order_qty": 1.5}, "max_order_qty"),
        (None, {"max_position": True}, "max_position"),
        (None, {"nope": 1}, "nope"),
    ],
)
def test_bad_params_and_risk_limits_are_refused_by_name(
    params: dict[str, object] | None, risk: dict[str, object] | None, needle: str
) -> None:
    from whistle.orchestrator import SymbolConfigError

    with pytest.raises(SymbolConfigError, match=needle):
        validate_pair("X1", MM, params, risk)


def test_pause_resume_pause_queued_while_stopped_ends_paused(tmp_path: Path) -> None:
    orch = Orchestrator(tmp_path)
    orch.start()
    try:
        assert orch.add_trading_pair("X4", MM)["outcome"] == "added"
    finally:
        orch.stop()
    client = ControlClient(tmp_path, resolve_url(tmp_path))
    try:
        answers = [
            client.pause("X4", wait_s=0),
            client.resume("X4", wait_s=0),
            client.pause("X4", wait_s=0),
        ]
    finally:
        client.close()
    assert [a["outcome"] for a in answers] == ["queued"] * 3
    orch = Orchestrator(tmp_path)
    orch.start()
    try:
        client = ControlClient(tmp_path, resolve_url(tmp_path))
        try:
            deadline = time.monotonic() + 60
            while client.queued() and time.monotonic() < deadline:
                time.sleep(0.05)  # polling a condition, bounded by the deadline
            pending = client.queued()
        finally:
            client.close()
        statuses = {s.symbol: s.status for s in orch.status()}
    finally:
        orch.stop()
    assert pending == []
    # The operator's last word was "pause": the queue runs the commands in order.
    assert statuses["X4"] == "PAUSED", (answers, statuses)
