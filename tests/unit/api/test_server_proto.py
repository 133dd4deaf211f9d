"""The checked-in protocol code is what proto/whistle/v1 says, and its enums are the core's."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from whistle.api.v1 import market_data_pb2, types_pb2
from whistle.core.enums import (
    CancelCause,
    ClientOrderOutcome,
    Liquidity,
    OrderType,
    Side,
    StpMode,
    TimeInForce,
    TradingState,
)
from whistle.core.reasons import RejectReason

if TYPE_CHECKING:
    from types import ModuleType

ROOT = Path(__file__).resolve().parents[3]


def _generator() -> ModuleType:
    path = ROOT / "proto" / "generate.py"
    spec = importlib.util.spec_from_file_location("whistle_proto_generate", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_regenerating_gives_the_checked_in_files(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools")
    generator = _generator()
    written = generator.generate(tmp_path)
    checked_in = ROOT / "src/whistle/api/v1"
    names = sorted(p.name for p in written)
    assert names == sorted(
        p.name for p in checked_in.iterdir() if p.name.endswith(generator.SUFFIXES)
    ), "a generated file is missing or left over: run .venv/bin/python proto/generate.py"
    for path in written:
        assert path.read_bytes() == (checked_in / path.name).read_bytes(), (
            f"{path.name} is stale: run .venv/bin/python proto/generate.py"
        )


def test_generated_code_imports_only_whistle_api_v1() -> None:
    for path in (ROOT / "src/whistle/api/v1").glob("*.py*"):
        text = path.read_text(encoding="utf-8")
        assert "from whistle.v1 " not in text, path.name


@pytest.mark.parametrize(
    ("core", "proto", "prefix"),
    [
        (Side, types_pb2.Side, "SIDE_"),
        (OrderType, types_pb2.OrderType, "ORDER_TYPE_"),
        (TimeInForce, types_pb2.TimeInForce, "TIME_IN_FORCE_"),
        (CancelCause, types_pb2.CancelCause, "CANCEL_CAUSE_"),
        (Liquidity, types_pb2.Liquidity, "LIQUIDITY_"),
        (TradingState, types_pb2.TradingState, "TRADING_STATE_"),
        (ClientOrderOutcome, types_pb2.ClientOrderOutcome, "CLIENT_ORDER_OUTCOME_"),
        (RejectReason, types_pb2.RejectReason, "REJECT_REASON_"),
    ],
)
def test_proto_enums_are_the_core_enums(core: type, proto: object, prefix: str) -> None:
    wire = {name: value for name, value in proto.items()}  # type: ignore[attr-defined]
    for member in core:  # type: ignore[attr-defined]
        assert wire[prefix + member.name] == int(member), member
    extra = {
        name
        for name, value in wire.items()
        if name != prefix + "UNSPECIFIED" and name[len(prefix) :] not in core.__members__
    }
    assert not extra, f"proto values the core does not have: {extra}"


def test_stp_mode_none_is_the_unspecified_value() -> None:
    assert int(StpMode.NONE) == types_pb2.STP_MODE_UNSPECIFIED
    for member in StpMode:
        if member is not StpMode.NONE:
            assert types_pb2.StpMode.Value("STP_MODE_" + member.name) == int(member)


def test_every_core_event_kind_has_a_proto_message() -> None:
    from whistle.core.events import EVENT_TYPES

    kinds = {f.message_type.name for f in types_pb2.Event.DESCRIPTOR.oneofs_by_name["kind"].fields}
    assert {t.__name__ for t in EVENT_TYPES} == kinds
    for kind in EVENT_TYPES:
        proto_fields = set(types_pb2.DESCRIPTOR.message_types_by_name[kind.__name__].fields_by_name)
        core_fields = set(kind.__struct_fields__) - {"symbol_id", "seq", "enq_seq", "ts_ns"}
        assert core_fields <= proto_fields, (kind.__name__, core_fields - proto_fields)


def test_market_data_kinds_cover_the_hub_kinds() -> None:
    names = set(market_data_pb2.MarketDataKind.keys())
    assert {"MARKET_DATA_KIND_LEVELS", "MARKET_DATA_KIND_BBO", "MARKET_DATA_KIND_TRADES"} <= names
