"""Writer lock, heartbeat, disconnect detection and passive discovery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest
from journal_helpers import seg_path, small_config

from whistle.journal import (
    DisconnectReason,
    DiscoveryState,
    PassiveDiscovery,
    Queue,
    WriterLockedError,
    probe_writer,
)

if TYPE_CHECKING:
    from pathlib import Path

TTL = 60 * 10**9


def test_status_of_live_and_closed_writer(qdir: Path) -> None:
    w = Queue.open_publisher(qdir, small_config())
    with Queue.open_subscriber(qdir, "r") as r:
        status = r.writer_status(TTL)
        assert status.alive
        assert status.lock_held
        assert status.pid == os.getpid()
        assert r.detect_disconnect(TTL) is None
        w.close()
        assert r.detect_disconnect(TTL) is DisconnectReason.LOCK_LOST
        assert not r.writer_status(TTL).alive


def test_heartbeat_stale(qdir: Path) -> None:
    with Queue.open_publisher(qdir, small_config()), Queue.open_subscriber(qdir, "r") as r:
        hb = r.writer_status(TTL).heartbeat_ns
        assert hb is not None
        later = hb + 10 * TTL
        assert r.detect_disconnect(TTL, now_ns=later) is DisconnectReason.HEARTBEAT_STALE
        assert r.writer_status(TTL, now_ns=later).reason is DisconnectReason.HEARTBEAT_STALE


def test_segment_missing(qdir: Path) -> None:
    with Queue.open_publisher(qdir, small_config()) as w, Queue.open_subscriber(qdir, "r") as r:
        w.append(1, b"x")
        assert r.next() is not None
        os.unlink(seg_path(qdir, 0))
        assert r.detect_disconnect(TTL) is DisconnectReason.SEGMENT_MISSING


def test_passive_discovery_transitions(qdir: Path) -> None:
    disc = PassiveDiscovery(qdir, TTL)
    assert disc.state is DiscoveryState.WAITING
    assert disc.poll() is None  # queue does not exist yet
    assert not qdir.exists()  # passive: created nothing
    w = Queue.open_publisher(qdir, small_config())
    t = disc.poll()
    assert t is not None
    assert (t.previous, t.current, t.reason) == (
        DiscoveryState.WAITING,
        DiscoveryState.CONNECTED,
        None,
    )
    assert disc.poll() is None
    hb = probe_writer(qdir, TTL).heartbeat_ns
    assert hb is not None
    t = disc.poll(now_ns=hb + 10 * TTL)
    assert t is not None
    assert (t.current, t.reason) == (DiscoveryState.DISCONNECTED, DisconnectReason.HEARTBEAT_STALE)
    t = disc.poll()
    assert t is not None
    assert t.current is DiscoveryState.CONNECTED
    w.close()  # stops the writer's sidecar workers, so the directory is quiet now
    before = sorted(os.listdir(qdir))
    t = disc.poll()
    assert t is not None
    assert (t.current, t.reason) == (DiscoveryState.DISCONNECTED, DisconnectReason.LOCK_LOST)
    assert disc.poll() is None
    assert sorted(os.listdir(qdir)) == before  # no safety action taken
    with Queue.open_publisher(qdir, small_config()):
        t = disc.poll()
        assert t is not None
        assert t.current is DiscoveryState.CONNECTED
    assert len(disc.transitions) == 5


def test_passive_discovery_with_reader(qdir: Path) -> None:
    with Queue.open_publisher(qdir, small_config()) as w, Queue.open_subscriber(qdir, "r") as r:
        disc = PassiveDiscovery(qdir, TTL, reader=r)
        assert disc.poll() is not None
        assert disc.state is DiscoveryState.CONNECTED
        w.append(1, b"x")
        r.next()
        os.unlink(seg_path(qdir, 0))
        t = disc.poll()
        assert t is not None
        assert t.reason is DisconnectReason.SEGMENT_MISSING
    with pytest.raises(ValueError):
        PassiveDiscovery(qdir, 0)


_CHILD = textwrap.dedent(
    """
    import sys, time
    from whistle.journal import Queue, QueueConfig
    w = Queue.open_publisher(sys.argv[1], QueueConfig(segment_size=4096))
    for i in range(100):
        w.append(1, b"child-%d" % i)
    print("ready", flush=True)
    time.sleep(120)
    """
)


def test_writer_lock_across_processes_and_kill_9(qdir: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(qdir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        with pytest.raises(WriterLockedError) as info:
            Queue.open_publisher(qdir, small_config())
        assert str(child.pid) in str(info.value)
        with Queue.open_subscriber(qdir, "r") as r:
            assert r.writer_status(TTL).pid == child.pid
            assert r.detect_disconnect(TTL) is None
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
            assert r.detect_disconnect(TTL) is DisconnectReason.LOCK_LOST
            # every append that returned in the killed process survived (page cache)
            assert [x.payload for x in r] == [b"child-%d" % i for i in range(100)]
        with Queue.open_publisher(qdir, small_config()) as w:
            assert w.append(1, b"parent") == 100
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()
