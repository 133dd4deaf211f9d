"""NATS JetStream for the cluster tests.

``WHISTLE_TEST_NATS_URL`` (default nats://127.0.0.1:4222) names the server. When it does
not answer, the tests skip, unless ``WHISTLE_REQUIRE_NATS=1`` (CI): then they fail. Every
test takes a unique lower-case ``prefix`` (``unique_prefix``) and deletes every stream and
bucket named after it when it ends (``purge``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import nats
import nats.errors
import nats.js.errors
import pytest

if TYPE_CHECKING:
    from collections.abc import Coroutine
    from typing import Any, TypeVar

    from nats.aio.client import Client

    T = TypeVar("T")

NATS_URL = os.environ.get("WHISTLE_TEST_NATS_URL", "nats://127.0.0.1:4222")
REQUIRE_NATS = os.environ.get("WHISTLE_REQUIRE_NATS") == "1"


def nats_available() -> str | None:
    """Return why NATS cannot be used, or None."""
    url = urlparse(NATS_URL)
    try:
        with socket.create_connection((url.hostname or "127.0.0.1", url.port or 4222), 2):
            return None
    except OSError as exc:
        return f"NATS at {NATS_URL} does not answer: {exc}"


def require_nats() -> None:
    """Skip (or fail under WHISTLE_REQUIRE_NATS=1) when NATS is absent."""
    problem = nats_available()
    if problem is None:
        return
    if REQUIRE_NATS:
        pytest.fail(f"WHISTLE_REQUIRE_NATS=1 but {problem}")
    pytest.skip(problem)


def unique_prefix() -> str:
    """Return a fresh prefix for one test's streams and subjects."""
    return "t" + secrets.token_hex(5)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on a fresh event loop."""
    return asyncio.run(coro)


async def connect() -> Client:
    """Connect to the test server."""
    return await nats.connect(NATS_URL, connect_timeout=5, max_reconnect_attempts=2)


async def purge(prefix: str) -> None:
    """Delete every stream (object stores included) whose name starts with ``prefix``."""
    upper = prefix.upper().replace("-", "_")
    nc = await connect()
    try:
        js = nc.jetstream()
        names: list[str] = []
        offset = 0
        while True:
            page = await js.streams_info(offset)
            if not page:
                break
            offset += len(page)
            names.extend(info.config.name or "" for info in page)
        for name in names:
            if name.startswith((upper + "_", "OBJ_" + upper + "_", "KV_" + upper + "_")):
                with contextlib.suppress(nats.js.errors.NotFoundError):
                    await js.delete_stream(name)
    finally:
        await nc.close()


class Clock:
    """A deterministic clock for sequencers: 1 ms per reading, from a fixed start."""

    def __init__(self) -> None:
        self.now = 1_000_000_000

    def __call__(self) -> int:
        self.now += 1_000_000
        return self.now
