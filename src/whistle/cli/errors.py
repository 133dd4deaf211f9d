"""One place that turns an exception escaping any ``whistle`` command into one line.

``WhistleGroup`` is the class of the top ``whistle`` group; every subcommand (whoever
owns it: ``script``, ``journal``, ``replay``, ``demo``, ``bench``, ``feed``, ...) runs
inside its ``invoke``, so every command gets the same treatment without code of its own:
an error is printed as ONE line on stderr, ``whistle <command>: error: <what> [<where>];
<what to do>``, and the process exits with a documented status. No traceback, unless
``whistle --debug ...`` or ``WHISTLE_DEBUG=1`` asks for one (the exception is re-raised).

Exit status (``EXIT_*``; sysexits.h numbers where one fits)::

    0   success
    1   the command ran and its verdict is negative (failed scenario lines, a replay
        mismatch): the command's own ``SystemExit(1)``; click's own errors also use 1
    2   usage error (unknown option, bad argument): printed by click, as click prints it
    65  EX_DATAERR     bad input or damaged data: WhistleError (scenario, instrument,
                       conversion, DataDirError, a market-data file that does not decode:
                       FeedError, ...), a journal that is not a journal
                       or is corrupt (JournalFormatError, NotAJournalError,
                       SequenceUnavailable)
    70  EX_SOFTWARE    an internal error (a bug, CoordError from the venue runtime)
    73  EX_CANTCREAT   cannot create or write: permission denied, read-only file system
    74  EX_IOERR       any other I/O error: disk full (ENOSPC, JournalFull), EIO, ...
    75  EX_TEMPFAIL    the data directory's writer lock is held by another process
                       (WriterLockedError): retry when it has stopped

Click's own exceptions (usage errors, ``ClickException``, ``Abort`` on Ctrl-C, ``Exit``)
and ``SystemExit`` pass through untouched, as does a broken pipe on stdout (click
already exits quietly for ``whistle ... | head``). Messages are cut: an exception that
echoes a 100 MB input prints at most ``MAX_LINE`` characters.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from typing import TYPE_CHECKING, Any, Final, final

import click

from whistle.coord.durability.datadir import DataDirError
from whistle.coord.errors import CoordError
from whistle.core.errors import WhistleError
from whistle.core.validate import cut
from whistle.feed.errors import FeedError
from whistle.journal import JournalError
from whistle.journal.errors import (
    JournalClosedError,
    JournalIOError,
    RecordTooLarge,
    WriterLockedError,
)
from whistle.scenario.errors import ScenarioError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "DEBUG_ENV",
    "EXIT_CANTCREAT",
    "EXIT_DATAERR",
    "EXIT_IOERR",
    "EXIT_LOCKED",
    "EXIT_SOFTWARE",
    "MAX_LINE",
    "WhistleGroup",
    "describe",
]

EXIT_DATAERR: Final = 65
EXIT_SOFTWARE: Final = 70
EXIT_CANTCREAT: Final = 73
EXIT_IOERR: Final = 74
EXIT_LOCKED: Final = 75

DEBUG_ENV: Final = "WHISTLE_DEBUG"
"""``WHISTLE_DEBUG=1`` re-raises every error with its traceback (as ``--debug`` does)."""

MAX_LINE: Final = 400
"""Longest error line printed (the exception's text is cut to fit)."""

_ARGV_KEY: Final = "whistle.argv"
_DEBUG_HINT: Final = "rerun with --debug (or WHISTLE_DEBUG=1) for the traceback"

_CANT_CREATE: Final = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})
_FULL: Final = frozenset({errno.ENOSPC, errno.EDQUOT})


def _one_line(text: str, limit: int = MAX_LINE) -> str:
    return cut(" ".join(text.split()), limit)


def _errno_name(code: int | None) -> str:
    if code is None:
        return "no errno"
    return errno.errorcode.get(code, str(code))


def _on_stdout(exc: BaseException) -> bool:
    # A write error without a file name is most often stdout (`whistle ... > /dev/full`):
    # look for the standard output among the locals of the frames the error came through
    # (click.echo's `file`, a rich Console's `self.file`, our own stream wrappers).
    streams: list[object] = []
    for stream in (sys.stdout, sys.__stdout__):
        if stream is not None:
            streams.append(stream)
            streams.append(getattr(stream, "buffer", None))
    tb = exc.__traceback__
    while tb is not None:
        for value in tb.tb_frame.f_locals.values():
            if any(value is s for s in streams if s is not None):
                return True
            inner = getattr(value, "file", None)
            if inner is not None and any(inner is s for s in streams if s is not None):
                return True
        tb = tb.tb_next
    return False


def _quiet_stdout() -> None:
    # Python flushes stdout again at exit; on a full device that would print
    # "Exception ignored ..." after our one line.
    with contextlib.suppress(OSError):
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  # replaces the broken stream


def _os_error(exc: OSError, wrapper: BaseException | None = None) -> tuple[int, str]:
    # ``wrapper``: the whistle error raised from ``exc``; its words lead, and the OS's
    # words and the path are added only where they do not already say them.
    code = exc.errno
    if isinstance(exc, JournalError):
        # The journal's message already names the action, the file and the offset.
        what = str(exc)
        where = ""
    else:
        what = exc.strerror or str(exc) or type(exc).__name__
        names = [os.fsdecode(n) for n in (exc.filename, exc.filename2) if n is not None]
        if names:
            where = " -> ".join(names)
        elif _on_stdout(exc):
            where = "the standard output"
            _quiet_stdout()
        else:
            where = "(the operating system named no file)"
    if wrapper is not None:
        lead = str(wrapper)
        if what in lead:
            what = ""
        if where and (where in lead or where.startswith("(")):
            where = ""
        what = lead + (f": {what}" if what else "")
    if code in _FULL:
        todo = "free space on that file system (or its quota) or write somewhere else"
        status = EXIT_IOERR
    elif code == errno.EROFS:
        todo = "that file system is mounted read-only: use a path on a writable one"
        status = EXIT_CANTCREAT
    elif code in _CANT_CREATE:
        todo = "check the owner and permissions of that path, or use another path"
        status = EXIT_CANTCREAT
    elif code == errno.ENOENT:
        todo = "check that the path exists"
        status = EXIT_IOERR
    else:
        todo = "check the device and the path; " + _DEBUG_HINT
        status = EXIT_IOERR
    text = f"{what} [{_errno_name(code)}]" + (f": {where}" if where else "") + f"; {todo}"
    return status, text


def _os_cause(exc: BaseException) -> OSError | None:
    # The OSError a whistle error was raised from (``raise DataDirError(...) from exc``).
    seen = 0
    cause = exc.__cause__
    while cause is not None and seen < 8:
        if isinstance(cause, OSError):
            return cause
        cause = cause.__cause__
        seen += 1
    return None


def describe(exc: BaseException) -> tuple[int, str]:
    """Return (exit status, one-line message without the command prefix) for ``exc``.

    A whistle error raised from an ``OSError`` (the journal could not be written) takes
    the status and the advice of that ``OSError``, and keeps its own words.
    """
    cause = None if isinstance(exc, OSError) else _os_cause(exc)
    if isinstance(exc, WhistleError) and cause is not None:
        return _os_error(cause, exc)
    if isinstance(exc, WriterLockedError):
        return EXIT_LOCKED, (
            f"{exc}; another process (a whistle command or a Venue) is writing this"
            " data directory: stop it, or use another --data-dir"
        )
    if isinstance(exc, (JournalClosedError, RecordTooLarge)):
        return EXIT_SOFTWARE, f"{type(exc).__name__}: {exc}; {_DEBUG_HINT} and report it"
    if isinstance(exc, (JournalIOError, OSError)):
        return _os_error(exc)
    if isinstance(exc, JournalError):
        return EXIT_DATAERR, (
            f"the journal cannot be read: {exc}; the data directory is damaged or is not"
            " one (see `whistle journal --help` for the tools that inspect it)"
        )
    if isinstance(exc, DataDirError):
        return EXIT_DATAERR, (
            f"the data directory is unusable: {exc}; it was left as it is (nothing was"
            " written after the damage)"
        )
    if isinstance(exc, ScenarioError):
        return EXIT_DATAERR, f"{exc}; fix that line of the scenario"
    if isinstance(exc, FeedError):
        return EXIT_DATAERR, (
            f"the market-data file cannot be decoded: {exc}; check --format and the file"
        )
    if isinstance(exc, CoordError):
        return EXIT_SOFTWARE, f"the venue failed: {exc}; {_DEBUG_HINT}"
    # Imported here: only the trading commands raise these, other commands skip the import.
    from whistle.trading.backtest.errors import BacktestError
    from whistle.trading.errors import StrategyConfigError

    if isinstance(exc, BacktestError):
        return EXIT_DATAERR, f"the backtest did not finish: {exc}; no figures were reported"
    if isinstance(exc, StrategyConfigError):
        return EXIT_DATAERR, (
            f"the strategy cannot be loaded: {exc}; check the module:Class spec and its config"
        )
    if isinstance(exc, WhistleError):
        return EXIT_DATAERR, f"invalid input: {exc}; correct the value and retry"
    from whistle.metrics.errors import BlockFormatError, BlockNotFound, MetricsError  # layer 0

    if isinstance(exc, BlockNotFound):
        return EXIT_IOERR, f"{exc}; check the name (`ls /dev/shm`) or the run directory"
    if isinstance(exc, BlockFormatError):
        return EXIT_DATAERR, f"{exc}; that block belongs to something else or another version"
    if isinstance(exc, MetricsError):
        return EXIT_LOCKED, f"{exc}; retry, or restart the stage that publishes it"
    if isinstance(exc, RecursionError):
        return EXIT_DATAERR, f"input nested too deeply ({exc}); simplify it"
    if isinstance(exc, MemoryError):
        return EXIT_SOFTWARE, "out of memory; use a smaller input or more memory"
    return EXIT_SOFTWARE, (
        f"internal error {type(exc).__name__}: {exc}; this is a bug: {_DEBUG_HINT} and report it"
    )


def _debug(ctx: click.Context) -> bool:
    return bool(ctx.params.get("debug")) or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def _command_path(group: click.Group, args: Sequence[str]) -> str:
    # "whistle journal inspect" from the raw arguments: follow subcommand names through
    # the groups, skipping options (an option's value is never a subcommand name here).
    path = ["whistle"]
    command: click.Command = group
    for arg in args:
        if arg.startswith("-"):
            continue
        if not isinstance(command, click.Group) or arg not in command.commands:
            break
        path.append(arg)
        command = command.commands[arg]
    return " ".join(path)


def _passes_through(exc: BaseException) -> bool:
    if isinstance(exc, (click.exceptions.ClickException, click.exceptions.Abort)):
        return True
    if isinstance(exc, click.exceptions.Exit):
        return True
    return isinstance(exc, OSError) and exc.errno == errno.EPIPE


@final
class WhistleGroup(click.Group):
    """A click group that maps every escaping error to one line and an exit status."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Remember the raw arguments (to name the failing command), then parse."""
        ctx.meta[_ARGV_KEY] = list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; print an escaping error as one line and exit with its status."""
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if _passes_through(exc) or _debug(ctx):
                raise
            status, text = describe(exc)
            notes = getattr(exc, "__notes__", None)
            if notes:
                text += " [" + "; ".join(str(n) for n in notes) + "]"
            where = _command_path(self, ctx.meta.get(_ARGV_KEY, ()))
            click.echo(_one_line(f"{where}: error: {text}"), err=True)
            sys.stderr.flush()
            raise click.exceptions.Exit(status) from None
