"""``whistle script``: run JSON Lines scenarios (format: ``docs/scenario-format.md``)."""

from __future__ import annotations

from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from whistle.coord.venue import Venue
from whistle.scenario.render import encode_line
from whistle.scenario.runner import ScenarioRunner

if TYPE_CHECKING:
    from whistle.scenario.runner import OnError

__all__ = ["script"]

_FLUSH_EVERY = 256


@click.group()
def script() -> None:
    """Run JSON Lines scenarios: commands in, events out."""


@script.command("run")
@click.argument("file", type=click.File("rb"))
@click.option(
    "--on-error",
    type=click.Choice(["stop", "continue"]),
    default="stop",
    show_default=True,
    help="After a malformed line: stop the run, or report it and go on.",
)
@click.option(
    "--output",
    "-o",
    type=click.File("wb"),
    default="-",
    show_default=True,
    help="Where to write the events (JSON Lines); '-' is stdout.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Journal the run to this directory (an existing one is recovered first).",
)
def run(file: IO[bytes], on_error: OnError, output: IO[bytes], data_dir: Path | None) -> None:
    """Run the scenario FILE ('-' reads stdin) and print one JSON object per event.

    A malformed line is printed as a ScenarioError object and reported on stderr; the exit
    status is 1 when any line failed.
    """
    venue = Venue(data_dir=data_dir) if data_dir is not None else Venue()
    try:
        _run(venue, file, on_error, output)
    finally:
        venue.stop()


def _run(venue: Venue, file: IO[bytes], on_error: OnError, output: IO[bytes]) -> None:
    runner = ScenarioRunner(venue)
    name = getattr(file, "name", "-")
    chunk: list[bytes] = []
    obj: dict[str, Any]
    for obj in runner.run(file, on_error=on_error):
        chunk.append(encode_line(obj))
        if obj["event"] == "ScenarioError":
            click.echo(f"whistle script: {name}: line {obj['line']}: {obj['error']}", err=True)
        if len(chunk) >= _FLUSH_EVERY:
            output.write(b"".join(chunk))
            chunk.clear()
    output.write(b"".join(chunk))
    output.flush()
    if runner.errors:
        click.echo(
            f"whistle script: {name}: {runner.errors} line(s) failed"
            + (" (stopped at the first)" if on_error == "stop" else ""),
            err=True,
        )
        raise SystemExit(1)
