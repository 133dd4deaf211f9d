"""Options shared by ``whistle demo`` and ``whistle bench venue``: how host processes run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import click

from whistle.ipc import WaitStrategy

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["host_options", "venue_options"]

F = TypeVar("F", bound="Callable[..., Any]")


def _check_wait(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        WaitStrategy.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


def host_options(command: F) -> F:
    """Add ``--wait``, ``--queue-depth``, ``--heartbeat-s`` and ``--dead-after-s``."""
    options = [
        click.option(
            "--wait",
            default="sleep",
            show_default=True,
            callback=_check_wait,
            help="How hosts and venue wait for each other: sleep (frugal), yield (low"
            " latency on a shared machine) or spin (a core each), optionally with"
            " thresholds: 'yield,spin=200,yields=50000,min_sleep=1e-5,max_sleep=1e-3'.",
        ),
        click.option(
            "--queue-depth",
            type=click.IntRange(min=1),
            default=1 << 16,
            show_default=True,
            help="Commands one symbol may have waiting for the next tick (then QUEUE_FULL).",
        ),
        click.option(
            "--heartbeat-s",
            type=click.FloatRange(min=0, min_open=True),
            default=0.05,
            show_default=True,
            help="Seconds between two heartbeats of a host process.",
        ),
        click.option(
            "--dead-after-s",
            type=click.FloatRange(min=0, min_open=True),
            default=5.0,
            show_default=True,
            help="A host whose last heartbeat is older than this is declared dead and killed"
            " (its symbols: rebuilt from the journal with a data directory, else faulted).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def venue_options(
    wait: str, queue_depth: int, heartbeat_s: float, dead_after_s: float
) -> dict[str, Any]:
    """Return the ``Venue`` keywords of the options added by ``host_options``."""
    if heartbeat_s >= dead_after_s:
        raise click.BadParameter(
            f"--heartbeat-s ({heartbeat_s}) must be below --dead-after-s ({dead_after_s})"
        )
    return {
        "wait": wait,
        "queue_depth": queue_depth,
        "host_heartbeat_s": heartbeat_s,
        "host_dead_after_s": dead_after_s,
    }
