"""Bad pair configurations are refused before anything is written (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from test_orchestrator_support import BACKENDS, database

from whistle.orchestrator import Orchestrator, SymbolConfigError
from whistle.orchestrator.registry import symbol_registry

if TYPE_CHECKING:
    from collections.abc import Iterator

MM = "whistle.trading.examples:MarketMaker"


@pytest.fixture(scope="module", params=BACKENDS)
def shared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Orchestrator]:
    with database(request.param) as url:
        o = Orchestrator(tmp_path_factory.mktemp("shared") / "orch", db=url)
        o.start()
        try:
            yield o
        finally:
            o.stop()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"strategy": "whistle.trading.examples:NoSuchClass"}, "NoSuchClass"),
        ({"strategy": "no.such.module:X"}, "no.such.module"),
        ({"params": {"qty_lotz": 1}}, "qty_lotz"),
        ({"params": {"qty_lots": "one"}}, "qty_lots"),
        ({"risk": {"max_position": -1}}, "max_position"),
        ({"risk": {"max_positon": 1}}, "max_positon"),
        ({"engine": "fast"}, "engine"),
        ({"account": 0}, "account"),
        ({"symbol": "bad symbol"}, "symbol"),
    ],
)
def test_bad_config_is_refused_before_anything_is_written(
    shared: Orchestrator, kwargs: dict[str, object], match: str
) -> None:
    orch = shared
    args: dict[str, object] = {"symbol": "BAD", "strategy": MM, "params": {}, "risk": {}}
    args.update(kwargs)
    with pytest.raises(SymbolConfigError, match=match):
        orch.add_trading_pair(
            str(args.pop("symbol")),
            str(args.pop("strategy")),
            args.pop("params"),  # type: ignore[arg-type]
            args.pop("risk"),  # type: ignore[arg-type]
            **args,  # type: ignore[arg-type]
        )
    assert orch.registry.rows() == []
    with orch.registry.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(symbol_registry)).scalar() == 0
