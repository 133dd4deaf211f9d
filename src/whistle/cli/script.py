"""``whistle script``: run JSON Lines scenarios (format: ``docs/scenario-format.md``)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, final

import click

from whistle.coord.venue.facade import Venue
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
    out = _Output(output)
    obj: dict[str, Any]
    try:
        for obj in runner.run(file, on_error=on_error):
            out.add(encode_line(obj))
            if obj["event"] == "ScenarioError":
                click.echo(f"whistle script: {name}: line {obj['line']}: {obj['error']}", err=True)
    except BaseException as exc:
        # Whatever stopped the run (the journal, a bug, Ctrl-C), the events of every line
        # before it were produced: write them, then let the error be reported.
        if not isinstance(exc, OSError) or not out.failed:
            out.flush_quietly()
        if isinstance(exc, Exception) and not out.failed and not isinstance(exc, SystemExit):
            exc.add_note(f"while running line {runner.line} of {name}")
        raise
    out.flush()
    if runner.errors:
        click.echo(
            f"whistle script: {name}: {runner.errors} line(s) failed"
            + (" (stopped at the first)" if on_error == "stop" else ""),
            err=True,
        )
        raise SystemExit(1)


@final
class _Output:
    """The run's output, written in chunks; a write error names the file."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.name = str(getattr(stream, "name", "<output>"))
        self.chunk: list[bytes] = []
        self.failed = False

    def add(self, line: bytes) -> None:
        chunk = self.chunk
        chunk.append(line)
        if len(chunk) >= _FLUSH_EVERY:
            self._write(flush=False)

    def flush(self) -> None:
        self._write(flush=True)

    def flush_quietly(self) -> None:
        # On the way out after another error: that error is the one to report.
        with contextlib.suppress(OSError):
            self._write(flush=True)

    def _write(self, *, flush: bool) -> None:
        try:
            self.stream.write(b"".join(self.chunk))
            self.chunk.clear()
            if flush:
                self.stream.flush()
        except OSError as exc:
            self.failed = True
            self.chunk.clear()
            if self.name not in ("<stdout>", "-"):
                # Close now, dropping what could not be written: a second flush at exit
                # would fail again and hide the file name.
                with contextlib.suppress(OSError):
                    self.stream.close()
            raise OSError(exc.errno, f"cannot write the output: {exc.strerror}", self.name) from exc
