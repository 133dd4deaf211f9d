"""``ControlClient``: change the registry from another process, orchestrator running or not.

Every command goes through the DBOS database, never around it: the client validates the
pair (strategy class, its config, risk limits) in its own process, reads the registry to
find the deterministic workflow id (``{symbol}-add-{n}`` ...), and *enqueues* that
workflow on the orchestrator's control queue with ``DBOSClient``. Then:

- a **running** orchestrator (it holds ``DIR/orchestrator.lock``) dequeues it within
  ~0.1 s and runs it; the client waits for the result (``wait_s``) and returns it, or
  raises what the workflow raised (``SymbolConflict``, ``UnknownSymbol``);
- a **stopped** orchestrator runs it at its next start, after recovery (``run`` starts
  listening to the queue once the registry is recovered); the client returns
  ``{"outcome": "queued"}`` and ``list`` shows the command as queued.

An identical repeat of a queued command has the same workflow id, so DBOS keeps one.
The client creates the DBOS schema and the registry table when the database is new, so
``add`` works before the orchestrator ever ran.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, final

import sqlalchemy as sa
from dbos import DBOS, DBOSClient, WorkflowHandle

from whistle.orchestrator.database import (
    APP_NAME,
    APP_VERSION,
    check_database,
    check_not_forked,
    retry,
)
from whistle.orchestrator.errors import OrchestratorError, SymbolConflict, UnknownSymbol
from whistle.orchestrator.registry import LIVE_STATUSES, REMOVED, RegistryRow, _row, metadata
from whistle.orchestrator.registry import symbol_registry as table
from whistle.orchestrator.service import lock_held, next_generation
from whistle.orchestrator.workflows import ADD, CONTROL_QUEUE, PAUSE, REMOVE, RESUME, workflow_id

if TYPE_CHECKING:
    import os

    from whistle.orchestrator.config import PairConfig

__all__ = ["ControlClient"]

_NAMES: Final = {ADD: "add", REMOVE: "remove", PAUSE: "pause", RESUME: "resume"}


@final
class ControlClient:
    """Enqueue registry commands for the orchestrator of ``data_dir`` (module docstring)."""

    def __init__(self, data_dir: str | os.PathLike[str], url: str) -> None:
        check_not_forked()
        self.data_dir = Path(data_dir).absolute()
        self.url = url
        check_database(url)
        retry(
            lambda: DBOS.migrate(url),
            what="preparing the DBOS system database",
            schema_race=True,
        )
        engine_url = sa.make_url(url)
        if engine_url.get_backend_name() == "postgresql":
            engine_url = engine_url.set(drivername="postgresql+psycopg")
        self.engine = sa.create_engine(engine_url, poolclass=sa.NullPool)
        retry(
            lambda: metadata.create_all(self.engine),
            what="creating the registry table",
            schema_race=True,
        )
        self.client = DBOSClient(system_database_url=url, application_name=APP_NAME)

    def close(self) -> None:
        """Release the database connections."""
        self.client.destroy()
        self.engine.dispose()

    @property
    def running(self) -> bool:
        """Whether an orchestrator runs on the data directory."""
        return lock_held(self.data_dir)

    # ------------------------------------------------------------------ reads

    def get(self, symbol: str) -> RegistryRow | None:
        """The registry row of ``symbol``."""

        def read() -> RegistryRow | None:
            with self.engine.connect() as conn:
                r = conn.execute(sa.select(table).where(table.c.symbol == symbol)).first()
            return None if r is None else _row(r)

        return retry(read, what=f"reading {symbol!r}")

    def rows(self) -> list[RegistryRow]:
        """Every registry row, by symbol."""

        def read() -> list[RegistryRow]:
            with self.engine.connect() as conn:
                return [_row(r) for r in conn.execute(sa.select(table).order_by(table.c.symbol))]

        return retry(read, what="reading the registry")

    def queued(self) -> list[dict[str, str]]:
        """Commands waiting on the control queue: ``{"workflow_id", "command"}``."""
        flows = self.client.list_workflows(
            queue_name=CONTROL_QUEUE, status=["ENQUEUED", "PENDING"], load_output=False
        )
        return [
            {"workflow_id": w.workflow_id, "command": _NAMES.get(w.name, w.name)} for w in flows
        ]

    def listing(self) -> list[dict[str, Any]]:
        """The registry rows (``symbol``, ``status``, ...) and then the queued commands."""
        out: list[dict[str, Any]] = [
            {
                "symbol": r.symbol,
                "status": r.status,
                "cause": r.cause,
                "strategy": r.strategy_config.get("class", ""),
                "engine": r.strategy_config.get("engine", ""),
                "account": r.strategy_config.get("account", 0),
                "generation": r.generation,
                "version": r.version,
                "updated_at": r.updated_at.isoformat(),
            }
            for r in self.rows()
        ]
        for q in self.queued():
            symbol = q["workflow_id"].rsplit("-" + q["command"] + "-", 1)[0]
            out.append({"symbol": symbol, "status": f"QUEUED {q['command']}", **q})
        return out

    # ------------------------------------------------------------------ commands

    def add(self, config: PairConfig, wait_s: float = 30.0) -> dict[str, Any]:
        """Enqueue ``{symbol}-add-{n}`` for a validated pair."""
        row = self.get(config.symbol)
        generation = next_generation(row, config)
        if row is not None and row.status != REMOVED:
            return {"outcome": "exists", "row": row.as_dict()}
        wid = workflow_id("add", config.symbol, generation)
        args = (
            config.symbol,
            generation,
            config.exchange,
            config.strategy_config,
            config.risk_config,
        )
        self._refuse_another_queued(wid, args)
        return self._enqueue(ADD, wid, wait_s, *args)

    def _refuse_another_queued(self, wid: str, args: tuple[Any, ...]) -> None:
        """Raise ``SymbolConflict`` if ``wid`` is already queued with other inputs.

        DBOS keeps the first workflow of an id, so a second, different add enqueued
        under the same id would be dropped while the client answered "queued" (R2
        finding 3). An identical repeat is the same command and passes.
        """
        queued = retry(
            lambda: self.client.list_workflows(
                workflow_ids=[wid], status=["ENQUEUED", "PENDING"], load_input=True
            ),
            what=f"reading the queued command {wid}",
        )
        for w in queued:
            inputs = w.input
            if inputs is None or list(inputs["args"]) != list(args) or inputs["kwargs"]:
                raise SymbolConflict(
                    f"{args[0]}: {wid} is already queued with another configuration;"
                    " start the orchestrator to apply it, then remove and re-add the pair"
                )

    def remove(self, symbol: str, wait_s: float = 30.0) -> dict[str, Any]:
        """Enqueue ``{symbol}-remove-{n}``."""
        row = self.get(symbol)
        if row is None or row.status == REMOVED:
            raise UnknownSymbol(f"{symbol} is not in the registry")
        return self._enqueue(
            REMOVE, workflow_id("remove", symbol, row.generation), wait_s, symbol, row.generation
        )

    def pause(self, symbol: str, wait_s: float = 30.0) -> dict[str, Any]:
        """Enqueue ``{symbol}-pause-{n}`` (``_state_id``)."""
        return self._state_command(PAUSE, "pause", symbol, wait_s)

    def resume(self, symbol: str, wait_s: float = 30.0) -> dict[str, Any]:
        """Enqueue ``{symbol}-resume-{n}`` (``_state_id``)."""
        return self._state_command(RESUME, "resume", symbol, wait_s)

    def _state_command(self, name: str, kind: str, symbol: str, wait_s: float) -> dict[str, Any]:
        """Pause / resume with a deterministic id that counts the queued ones too.

        ``n`` = the registry version + the number of pause/resume commands of ``symbol``
        still queued (R2 finding 6: with the version alone, pause, resume, pause queued
        while the orchestrator is stopped gave the second pause the first one's id, DBOS
        kept one, and the pair ended ACTIVE). Every command that runs moves the version
        by at least one, so a later ``n`` never meets an earlier command's id. A repeat
        of the LAST queued command is that command (idempotent, same id).
        """
        row = self._live(symbol)
        prefixes = (f"{symbol}-pause-", f"{symbol}-resume-")
        flows = retry(
            lambda: self.client.list_workflows(
                queue_name=CONTROL_QUEUE,
                status=["ENQUEUED", "PENDING"],
                load_input=False,
                load_output=False,
            ),
            what=f"reading the queued commands of {symbol!r}",
        )
        mine = sorted(
            (
                w
                for w in flows
                for p in prefixes
                if w.workflow_id.startswith(p) and w.workflow_id[len(p) :].isdigit()
            ),
            key=lambda w: int(w.workflow_id.rsplit("-", 1)[1]),
        )
        if mine and mine[-1].workflow_id.startswith(f"{symbol}-{kind}-"):
            last = mine[-1].workflow_id
            return self._enqueue(name, last, wait_s, symbol)
        return self._enqueue(
            name, workflow_id(kind, symbol, row.version + len(mine)), wait_s, symbol
        )

    def _live(self, symbol: str) -> RegistryRow:
        row = self.get(symbol)
        if row is None or row.status not in LIVE_STATUSES:
            raise UnknownSymbol(f"{symbol} is not in the registry")
        return row

    def _enqueue(self, name: str, wid: str, wait_s: float, *args: Any) -> dict[str, Any]:
        handle: WorkflowHandle[dict[str, Any]] = self.client.enqueue(
            {
                "queue_name": CONTROL_QUEUE,
                "workflow_name": name,
                "workflow_id": wid,
                "app_version": APP_VERSION,
            },
            *args,
        )
        if not self.running:
            return {"outcome": "queued", "workflow_id": wid}
        deadline = time.monotonic() + wait_s
        while handle.get_status().status not in ("SUCCESS", "ERROR", "CANCELLED"):
            if time.monotonic() > deadline:
                raise OrchestratorError(
                    f"{wid} is queued but the orchestrator did not finish it within {wait_s:g} s;"
                    " `whistle orchestrator list` shows when it has"
                )
            time.sleep(0.05)
        result: dict[str, Any] = handle.get_result()
        return {**result, "workflow_id": wid}
