"""Layer 9: the network API (gRPC services, server, clients, market data, web view).

May import every lower layer: ``whistle.core`` ... ``whistle.orchestrator``; never
``whistle.cluster`` (layer 10, which implements ``whistle.api.backend.Backend``).

Modules (one concept each):

- ``v1``: the generated protocol code of ``proto/whistle/v1`` (do not edit);
- ``convert``: wire <-> core (requests to commands, events both ways, views);
- ``backend``: ``Backend``, what the server drives, and ``LocalBackend(venue)``;
- ``server``: ``WhistleServer`` on grpc.aio, its ``CommandBatcher`` and error codes;
- ``auth`` / ``limits``: hashed API keys and roles; order rate and stream limits;
- ``orders``: per-account order-update fan-out; ``marketdata``: the market-data hub;
- ``client`` / ``aio_client`` / ``remote``: clients and remote trading adapters;
- ``web``: the live web view.

The names below are loaded on first use (importing ``whistle.api`` stays cheap and a
client never loads the server).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from whistle.api.aio_client import AsyncClient
    from whistle.api.auth import Authenticator, Identity, Role, hash_key, load_config, new_key
    from whistle.api.backend import Backend, BackendUnavailable, LocalBackend, Outcome
    from whistle.api.client import Client, ClientError
    from whistle.api.marketdata import MarketDataHub, Subscription
    from whistle.api.orders import OrderUpdates
    from whistle.api.server import CommandBatcher, ServerConfig, WhistleServer

__all__ = [
    "AsyncClient",
    "Authenticator",
    "Backend",
    "BackendUnavailable",
    "Client",
    "ClientError",
    "CommandBatcher",
    "Identity",
    "LocalBackend",
    "MarketDataHub",
    "OrderUpdates",
    "Outcome",
    "Role",
    "ServerConfig",
    "Subscription",
    "WhistleServer",
    "hash_key",
    "load_config",
    "new_key",
]

_HOME = {
    "AsyncClient": "aio_client",
    "Authenticator": "auth",
    "Backend": "backend",
    "BackendUnavailable": "backend",
    "Client": "client",
    "ClientError": "client",
    "CommandBatcher": "server",
    "Identity": "auth",
    "LocalBackend": "backend",
    "MarketDataHub": "marketdata",
    "OrderUpdates": "orders",
    "Outcome": "backend",
    "Role": "auth",
    "ServerConfig": "server",
    "Subscription": "marketdata",
    "WhistleServer": "server",
    "hash_key": "auth",
    "load_config": "auth",
    "new_key": "auth",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'whistle.api' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"whistle.api.{module}"), name)
    globals()[name] = value
    return value
