"""A WhistleServer on 127.0.0.1 (ephemeral port) in a thread with its own event loop.

Tests talk to it over real sockets with grpc's sync channels; ``call(coro)`` runs
something on the server's loop (the thread that owns the venue) and waits for it.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any

import grpc

from whistle.api.auth import AuthConfig, Authenticator, KeyEntry, hash_key
from whistle.api.backend import LocalBackend
from whistle.api.server import ServerConfig, WhistleServer
from whistle.api.v1 import admin_pb2, market_data_pb2, order_entry_pb2

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from whistle.coord import Venue

KEYS = {
    "alice": ("alice-key-0123456789", "trader", 7),
    "bob": ("bob-key-0123456789", "trader", 8),
    "md": ("md-key-0123456789", "marketdata", None),
    "root": ("root-key-0123456789", "admin", None),
}


def auth_config(**limits: Any) -> AuthConfig:
    """The four test keys (alice: account 7, bob: 8, md, root) and ``limits``."""
    from whistle.api.auth import LimitsEntry

    entries = [
        KeyEntry(name=name, sha256=hash_key(key), role=role, account=account)
        for name, (key, role, account) in KEYS.items()
    ]
    return AuthConfig(keys=entries, limits=LimitsEntry(**limits))


def metadata(name: str) -> tuple[tuple[str, str], ...]:
    """The call metadata of a test key."""
    return (("x-api-key", KEYS[name][0]),)


class ServerThread:
    """Run a WhistleServer over ``venue`` until ``close``."""

    def __init__(
        self,
        venue: Venue,
        *,
        config: ServerConfig | None = None,
        auth: Authenticator | None = None,
        owns_venue: bool = True,
        data_dir: Any = None,
    ) -> None:
        self.venue = venue
        self.loop = asyncio.new_event_loop()
        self.backend = LocalBackend(venue, owns_venue=owns_venue, data_dir=data_dir)
        self.ready = threading.Event()
        self.error: BaseException | None = None
        cfg = config or ServerConfig(port=0, tick_interval_s=0)
        self._config = cfg
        self._auth = auth if auth is not None else Authenticator(auth_config())
        self.server: WhistleServer | None = None
        self.thread = threading.Thread(target=self._run, name="whistle-server", daemon=True)
        self.thread.start()
        if not self.ready.wait(30):
            raise RuntimeError("the server did not start")
        if self.error is not None:
            raise self.error
        assert self.server is not None
        self.port = self.server.port
        self.address = f"127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.server = WhistleServer(self.backend, auth=self._auth, config=self._config)
            self.loop.run_until_complete(self.server.start())
            self.loop.run_until_complete(self.server.serving())
        except BaseException as exc:
            self.error = exc
            self.ready.set()
            self.loop.close()
            return
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        """Run ``coro`` on the server's loop; return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def run(self, fn: Any, *args: Any) -> Any:
        """Call ``fn(*args)`` on the server's loop thread (venue access); return its result."""

        async def wrapped() -> Any:
            return fn(*args)

        return self.call(wrapped())

    def close(self) -> None:
        """Stop the server gracefully (drain, checkpoint) and join its thread."""
        if self.thread.is_alive():
            assert self.server is not None
            try:
                self.call(self.server.stop(grace=1.0), timeout=60)
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self.thread.join(30)


class Stubs:
    """Sync stubs of the three services on one channel."""

    def __init__(self, address: str, credentials: grpc.ChannelCredentials | None = None) -> None:
        options = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]
        self.channel = (
            grpc.secure_channel(address, credentials, options=options)
            if credentials is not None
            else grpc.insecure_channel(address, options=options)
        )
        from whistle.api.v1 import admin_pb2_grpc, market_data_pb2_grpc, order_entry_pb2_grpc

        self.orders = order_entry_pb2_grpc.OrderEntryServiceStub(self.channel)
        self.md = market_data_pb2_grpc.MarketDataServiceStub(self.channel)
        self.admin = admin_pb2_grpc.AdminServiceStub(self.channel)

    def close(self) -> None:
        self.channel.close()


__all__ = [
    "KEYS",
    "ServerThread",
    "Stubs",
    "admin_pb2",
    "auth_config",
    "market_data_pb2",
    "metadata",
    "order_entry_pb2",
]
