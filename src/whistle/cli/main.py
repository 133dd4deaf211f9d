"""The ``whistle`` command group; each subcommand lives in its own module."""

from __future__ import annotations

import click

from whistle import __version__
from whistle.cli.backtest import backtest
from whistle.cli.bench import bench
from whistle.cli.bench_api import api_cmd
from whistle.cli.bench_cluster import cluster as bench_cluster
from whistle.cli.bench_marketdata import marketdata_cmd
from whistle.cli.client import client
from whistle.cli.cluster import cluster
from whistle.cli.demo import demo
from whistle.cli.errors import DEBUG_ENV, WhistleGroup
from whistle.cli.feed import feed
from whistle.cli.journal import journal
from whistle.cli.metrics import metrics
from whistle.cli.node import node
from whistle.cli.orchestrator import orchestrator
from whistle.cli.pipeline import pipeline
from whistle.cli.replay import replay
from whistle.cli.script import script
from whistle.cli.serve import serve

__all__ = ["main"]


@click.group(cls=WhistleGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="whistle")
@click.option(
    "--debug",
    is_flag=True,
    help=f"Show the traceback of an error instead of one line (or set {DEBUG_ENV}=1).",
)
def main(debug: bool) -> None:
    """whistle: a deterministic multi-market matching engine.

    \b
    An error is one line on stderr: what, where, what to do. Exit status:
      0   success
      1   the command's verdict is negative (failed scenario lines, replay mismatch)
      2   usage error (unknown option, bad argument)
      65  bad input or damaged data (scenario, instrument, data directory, journal)
      70  internal error (a bug: rerun with --debug and report it)
      73  cannot create or write (permission denied, read-only file system)
      74  other I/O error (disk full, device error)
      75  the data directory is locked by another writer: retry when it has stopped
    """


main.add_command(backtest)
main.add_command(bench)
bench.add_command(api_cmd)
bench.add_command(marketdata_cmd)
bench.add_command(bench_cluster)
main.add_command(client)
main.add_command(cluster)
main.add_command(demo)
main.add_command(feed)
main.add_command(journal)
main.add_command(metrics)
main.add_command(node)
main.add_command(orchestrator)
main.add_command(pipeline)
main.add_command(replay)
main.add_command(script)
main.add_command(serve)
