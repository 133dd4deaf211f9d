"""The ``whistle`` command group; each subcommand lives in its own module."""

from __future__ import annotations

import click

from whistle import __version__
from whistle.cli.bench import bench
from whistle.cli.demo import demo
from whistle.cli.journal import journal
from whistle.cli.replay import replay
from whistle.cli.script import script

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="whistle")
def main() -> None:
    """whistle: a deterministic multi-market matching engine."""


main.add_command(bench)
main.add_command(demo)
main.add_command(journal)
main.add_command(replay)
main.add_command(script)
