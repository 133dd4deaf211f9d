"""``whistle replay DIR``: rebuild every book from a data directory's journal and check it."""

from __future__ import annotations

import json
from pathlib import Path

import click
import msgspec
from rich.console import Console
from rich.table import Table

from whistle.cli.errors import describe
from whistle.coord.durability.replay import rebuild_events as run_rebuild
from whistle.coord.durability.replay import replay as run_replay

__all__ = ["replay"]


@click.command("replay")
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--rebuild-events",
    is_flag=True,
    help="Rewrite DATA_DIR/events from the command journal (heals a gap; the old journal is"
    " kept next to it). Refused while a venue has the directory open.",
)
def replay(data_dir: Path, as_json: bool, rebuild_events: bool) -> None:
    """Re-match every journaled command of DATA_DIR from empty books.

    Prints each symbol's state hash and event count; exits 1 if any state hash differs
    from the one recorded at a snapshot or at the clean stop, or if a snapshot of the
    latest checkpoint or the event journal has a gap or runs ahead; exits 65 on any damage
    of the command journal or an unreadable event journal, or when DATA_DIR is not a data
    directory (one line naming the file, the offset and the commands that cannot be
    read): the same reader and verdict as ``Venue(data_dir=DATA_DIR)``. With --json a
    failure is one JSON object with "error" and "exit_status". --rebuild-events rebuilds
    DATA_DIR/events from the command journal (which must be whole) even when the old
    event journal cannot be read.
    """
    try:
        if rebuild_events:
            rebuilt = run_rebuild(data_dir)
            damage = (
                ""
                if rebuilt.damage is None
                else f" (the old one could not be read past a damage, rebuilt from there on:"
                f" {rebuilt.damage})"
            )
            click.echo(
                f"rebuilt {data_dir / 'events'}: {rebuilt.events:,} events, {rebuilt.healed:,}"
                f" of them missing before; {rebuilt.dropped_notices:,} host-death notices"
                f" dropped; the old event journal is kept at {rebuilt.kept_at}{damage}",
                err=True,
            )
        report = run_replay(data_dir)
    except Exception as exc:
        if not as_json:
            raise  # the top group prints one line and exits with the documented status
        status, text = describe(exc)
        click.echo(json.dumps({"ok": False, "error": text, "exit_status": status}))
        raise click.exceptions.Exit(status) from None
    if as_json:
        payload = msgspec.to_builtins(report)
        payload["ok"] = report.ok
        click.echo(json.dumps(payload))
    else:
        console = Console()
        table = Table(title=f"whistle replay {data_dir}")
        for name in ("symbol", "events", "state hash"):
            table.add_column(name)
        for symbol, digest in report.state_hashes.items():
            table.add_row(symbol, f"{report.event_seqs[symbol]:,}", digest)
        console.print(table)
        console.print(
            f"{report.commands:,} commands and {report.ticks:,} ticks re-matched in"
            f" {report.seconds:.3f} s ({report.commands_per_sec:,.0f} commands/s),"
            f" {report.events:,} events; {report.checks} hash checks,"
            f" {len(report.mismatches)} mismatches;"
            f" {'clean stop' if report.clean_stop else 'no clean stop (crash or still running)'}"
        )
        for bad in report.mismatches:
            console.print(
                f"[red]MISMATCH[/red] {bad.symbol} at {bad.where}: recorded {bad.recorded},"
                f" replayed {bad.replayed}"
            )
        for problem in report.snapshot_problems:
            console.print(f"SNAPSHOT {problem}", markup=False, highlight=False)
        for missing in report.snapshots_missing:
            console.print(
                f"note: {missing} (recovery falls back to an earlier checkpoint)",
                markup=False,
                highlight=False,
            )
        if report.pending:
            console.print(
                f"note: {len(report.pending):,} commands (enq_seq {report.pending[0]}.."
                f"{report.pending[-1]}) were journaled after the last tick: acknowledged, not"
                " yet run (a reopened venue runs them at its next tick)",
                markup=False,
                highlight=False,
            )
        for gap in report.event_gaps:
            console.print(
                f"EVENT GAP symbol {gap.symbol_id}: event seqs {gap.first}..{gap.last} are"
                " missing from DIR/events",
                markup=False,
                highlight=False,
            )
        for problem in report.event_problems:
            console.print(f"EVENTS {problem}", markup=False, highlight=False)
    if not report.ok:
        raise SystemExit(1)
