"""Injected write failures (ENOSPC, EIO) and the child process that meets them.

``DiskFull`` replaces, for one data directory, the calls the journal and the venue write
through (``os.posix_fallocate``, ``os.write``, ``os.pwrite``, ``os.fsync``, ``open``,
``os.replace``, ``os.rename``) and fails them at one write site. ``child_main`` runs a load
with it (or on a real small file system, with a ballast file to delete) in a process that
ends with ``os._exit``: the directory is left exactly as a crash leaves it, and the parent
(``test_disk_full.py``) reopens and judges it.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import json
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from faults.harness import REFUSALS, Built, Load, abandon, finish, open_venue, prepare
from whistle.coord.durability.records import COMMANDS_DIR, EVENTS_DIR, SNAPSHOTS_DIR
from whistle.coord.venue.facade import Venue
from whistle.core.commands import Command, NewOrder
from whistle.core.errors import WhistleError
from whistle.core.events import OrderRejected
from whistle.tools.crashload import crash_instruments, crash_stream, now_at

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["CHILD", "EIO", "ENOSPC", "DiskFull", "child_main", "decode_built", "encode_built"]


# ---------------------------------------------------------------------------- disk full


ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
EIO = OSError(errno.EIO, os.strerror(errno.EIO))


def _fd_path(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


def _in_checkpoint() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_name == "checkpoint" and frame.f_code.co_filename.endswith("facade.py"):
            return True
        frame = frame.f_back
    return False


@dataclass
class DiskFull:
    """An injectable ENOSPC (or EIO) at one write site of a data directory.

    Sites:

    ``commands-append``   a roll of DIR/commands while a command is journaled
    ``commands-tick``     a roll of DIR/commands while a tick is journaled
    ``commands-checkpoint`` a roll of DIR/commands while a checkpoint's records are written
    ``events-append``     a roll of DIR/events while a tick's events are recorded
    ``snapshot-write``    writing a snapshot file
    ``snapshot-replace``  renaming a snapshot file into place
    ``prealloc``          background segment preallocation only (must stay invisible)
    ``recovery``          every segment creation in the directory (a venue reopening)
    ``manifest-eio``      EIO (not ENOSPC) storing DIR/commands/queue.manifest at a roll:
                          a journal that can no longer be written (the venue may stop)
    ``snapshot-fsync-eio`` EIO from fsync of a snapshot file

    A journal segment is created (``posix_fallocate``) ahead of the writer by a thread;
    while armed, every background creation for the site's queue fails, so the writer's
    roll creates it synchronously, and that call fails when it happens at the site.
    Once fired, the site keeps failing until ``free()`` (the disk stays full).
    """

    data_dir: Path
    site: str
    after: int
    """Arm after this many commands of the flow."""
    armed: bool = False
    fired: bool = False
    freed: bool = False
    phase: str = ""
    calls: int = 0

    def queue(self) -> Path | None:
        if self.site == "recovery":
            return self.data_dir
        if self.site.startswith("commands") or self.site == "prealloc":
            return self.data_dir / COMMANDS_DIR
        if self.site.startswith("events"):
            return self.data_dir / EVENTS_DIR
        return None

    def _site_now(self) -> bool:
        wanted = {
            "commands-append": ("enqueue", False),
            "commands-tick": ("tick", False),
            "commands-checkpoint": ("tick", True),
            "events-append": ("tick", False),
        }.get(self.site)
        if wanted is None:
            return True
        phase, checkpoint = wanted
        return self.phase == phase and _in_checkpoint() == checkpoint

    def free(self) -> None:
        self.freed = True

    def failing(self) -> bool:
        return self.fired and not self.freed

    @contextlib.contextmanager
    def installed(self) -> Iterator[DiskFull]:
        real_fallocate = os.posix_fallocate
        real_write = os.write
        real_pwrite = os.pwrite
        real_fsync = os.fsync
        real_replace = os.replace
        real_rename = os.rename
        real_open = builtins.open

        def fallocate(fd: int, offset: int, length: int) -> None:
            queue = self.queue()
            if self.armed and not self.freed and queue is not None:
                path = _fd_path(fd)
                if path.startswith(str(queue) + os.sep):
                    background = threading.current_thread() is not threading.main_thread()
                    if self.site == "prealloc":
                        if background:
                            self.calls += 1
                            raise ENOSPC
                    elif background or self.fired or self._site_now():
                        if not background:
                            self.fired = True
                        raise ENOSPC
            real_fallocate(fd, offset, length)

        def snap_target(path: object) -> bool:
            return str(path).startswith(str(self.data_dir / SNAPSHOTS_DIR))

        def check_snap_write(path: str) -> None:
            if (
                self.site == "snapshot-write"
                and self.armed
                and not self.freed
                and snap_target(path)
            ):
                self.fired = True
                raise ENOSPC

        def write(fd: int, data: Any) -> int:
            check_snap_write(_fd_path(fd))
            return real_write(fd, data)

        def pwrite(fd: int, data: Any, offset: int) -> int:
            path = _fd_path(fd)
            check_snap_write(path)
            if (
                self.site == "manifest-eio"
                and self.armed
                and not self.freed
                and path == str(self.data_dir / COMMANDS_DIR / "queue.manifest")
                and threading.current_thread() is threading.main_thread()
            ):
                self.fired = True
                raise EIO
            return real_pwrite(fd, data, offset)

        def fsync(fd: int) -> None:
            live = self.site == "snapshot-fsync-eio" and self.armed and not self.freed
            if live and snap_target(_fd_path(fd)):
                self.fired = True
                raise EIO
            real_fsync(fd)

        def check_snap_rename(dst: object) -> None:
            live = self.site == "snapshot-replace" and self.armed and not self.freed
            if live and snap_target(dst):
                self.fired = True
                raise ENOSPC

        def replace(src: Any, dst: Any, **kw: Any) -> None:
            check_snap_rename(dst)
            real_replace(src, dst, **kw)

        def rename(src: Any, dst: Any, **kw: Any) -> None:
            check_snap_rename(dst)
            real_rename(src, dst, **kw)

        class FullFile:
            def __init__(self, inner: Any, path: str) -> None:
                self._inner = inner
                self._path = path

            def write(self, data: Any) -> int:
                check_snap_write(self._path)
                return int(self._inner.write(data))

            def __getattr__(self, name: str) -> Any:
                return getattr(self._inner, name)

            def __enter__(self) -> FullFile:
                return self

            def __exit__(self, *exc: object) -> None:
                self._inner.close()

        def fake_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            handle = real_open(file, mode, *args, **kwargs)
            if (
                self.site == "snapshot-write"
                and any(c in mode for c in "wax+")
                and snap_target(file)
            ):
                return FullFile(handle, str(file))
            return handle

        os.posix_fallocate = fallocate
        os.write = write
        os.pwrite = pwrite
        os.fsync = fsync
        os.replace = replace
        os.rename = rename
        builtins.open = fake_open
        try:
            yield self
        finally:
            os.posix_fallocate = real_fallocate
            os.write = real_write
            os.pwrite = real_pwrite
            os.fsync = real_fsync
            os.replace = real_replace
            os.rename = real_rename
            builtins.open = real_open


def encode_built(built: Built, extra: dict[str, Any]) -> bytes:
    """What a child process hands back: acks, ticks and notes, as msgpack."""
    return msgspec.msgpack.encode(
        {
            "acked": [(s, msgspec.msgpack.encode(c)) for s, c in built.acked],
            "ticks": built.ticks,
            **extra,
        }
    )


def decode_built(load: Load, data_dir: Path, raw: bytes) -> tuple[Built, dict[str, Any]]:
    """Inverse of ``encode_built``; the reference is computed here."""
    payload = msgspec.msgpack.decode(raw)
    command_decoder = msgspec.msgpack.Decoder(Command)
    built = Built(load, data_dir)
    built.acked = [(s, command_decoder.decode(c)) for s, c in payload.pop("acked")]
    built.ticks = [tuple(t) for t in payload.pop("ticks")]  # type: ignore[misc]
    finish(built)
    return built, payload


# ---------------------------------------------------------------------------- the child


CHILD = (
    "import sys; sys.path.insert(0, sys.argv[1]); from faults.diskfull import child_main;"
    " child_main(sys.argv[2])"
)
"""``python -c CHILD TESTS_DIR SPEC_JSON``: run a load in a process that then dies."""


def describe(what: BaseException | OrderRejected) -> dict[str, Any]:
    if isinstance(what, OrderRejected):
        return {"type": "OrderRejected", "message": f"reason {what.reason}", "typed": True}
    return {
        "type": type(what).__name__,
        "message": str(what)[:500],
        "typed": isinstance(what, (*REFUSALS, WhistleError)),
    }


def child_main(spec_json: str) -> None:
    """Run a load with an injected disk-full (or a real one), then die without a stop.

    Writes what happened (acks, ticks, refusals, live hashes) to ``spec["out"]`` and
    ends with ``os._exit``: the directory is left exactly as a crash leaves it.
    """
    spec = json.loads(spec_json)
    load = Load(**spec["load"])
    data_dir = Path(spec["data_dir"])
    prepare(data_dir, load.segment_size)
    built = Built(load, data_dir)
    stream = crash_stream(load.seed, load.symbols, load.commands)
    full = DiskFull(data_dir, spec.get("site", "none"), spec.get("after", 0))
    ballast = spec.get("ballast")
    notes: dict[str, Any] = {"refusals": [], "after_free": [], "reopened": 0, "probe": None}
    state = {"venue": None}

    def free() -> None:
        full.free()
        if ballast is not None and os.path.exists(ballast):
            os.unlink(ballast)

    def failing() -> bool:
        if ballast is not None:
            return os.path.exists(ballast)
        return full.failing()

    def on_refused(index: int, call: str, what: BaseException | OrderRejected) -> None:
        venue = state["venue"]
        assert isinstance(venue, Venue)
        entry = {"index": index, "call": call, **describe(what)}
        if failing():
            notes["refusals"].append(entry)
            if notes["probe"] is None and call == "enqueue":
                # The disk is still full: one more command, refused or acknowledged whole.
                probe = NewOrder(1, 10**12 + index, 9, 1, 1, 1, 1, 1)
                full.phase = "enqueue"
                try:
                    result = venue.enqueue(probe)
                except Exception as exc:
                    notes["probe"] = describe(exc)
                else:
                    notes["probe"] = {"type": type(result).__name__}
                    if not isinstance(result, OrderRejected):
                        built.acked.append((result, probe))
            free()
            return
        notes["after_free"].append(entry)
        # Refused although there is space again: the venue stopped itself; reopen it.
        abandon(venue)
        state["venue"] = open_venue(data_dir, load)
        notes["reopened"] += 1

    def checkpoint_failed(index: int) -> None:
        # An automatic checkpoint that failed does not fail its tick (it only shortens
        # recovery): the venue records why (naming the file); free the space then.
        error = getattr(state["venue"], "last_checkpoint_error", None)
        if error and failing():
            notes["checkpoint_errors"].append({"index": index, "message": str(error)[:500]})
            free()

    notes["checkpoint_errors"] = []
    with full.installed() if ballast is None else contextlib.nullcontext():
        venue = open_venue(data_dir, load)
        state["venue"] = venue
        for instrument in crash_instruments(load.symbols):
            venue.add_instrument(instrument)
        for index in range(load.commands):
            if index >= full.after:
                full.armed = True
            venue = state["venue"]
            full.phase = "enqueue"
            try:
                result = venue.enqueue(stream[index])
            except Exception as exc:
                on_refused(index, "enqueue", exc)
            else:
                if isinstance(result, OrderRejected):
                    on_refused(index, "enqueue", result)
                else:
                    built.acked.append((result, stream[index]))
            if (index + 1) % load.tick_every == 0:
                full.phase = "tick"
                venue = state["venue"]
                now = max(venue.now_ns, now_at(index))
                try:
                    venue.tick(now)
                except Exception as exc:
                    on_refused(index, "tick", exc)
                    state["venue"].tick(now)
                built.ticks.append((len(built.acked), now))
                checkpoint_failed(index)
        full.phase = "tick"
        venue = state["venue"]
        now = max(venue.now_ns, now_at(load.commands - 1))
        try:
            venue.tick(now)
        except Exception as exc:
            on_refused(load.commands, "tick", exc)
            state["venue"].tick(now)
        built.ticks.append((len(built.acked), now))
        notes["live"] = state["venue"].state_hashes()
        notes["last_checkpoint_error"] = getattr(state["venue"], "last_checkpoint_error", None)
        notes["fired"] = full.fired or (ballast is not None and not os.path.exists(ballast))
        notes["background_failures"] = full.calls
    Path(spec["out"]).write_bytes(encode_built(built, notes))
    sys.stdout.flush()
    os._exit(0)  # a crash: no tick, no checkpoint, no Stopped record
