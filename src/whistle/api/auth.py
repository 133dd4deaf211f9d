"""API keys: who is calling, as which account, with which role.

Every call carries its key in the metadata entry ``x-api-key``. The server's config file
(TOML or JSON, ``whistle serve --config FILE``) lists the keys, stored hashed::

    [[keys]]
    name = "alice"                 # for logs and errors, never secret
    sha256 = "9f86d0...0f00a08"     # hex SHA-256 of the key's UTF-8 bytes
    role = "trader"                # trader | marketdata | admin
    account = 7                    # required for a trader, ignored otherwise
    orders_per_sec = 2000          # optional, this key's order rate (see whistle.api.limits)
    burst = 4000                   # optional
    max_streams = 16               # optional

A key is a random token (``whistle.api.auth.new_key()``: 32 random bytes, URL-safe
base64); its hash is ``hash_key(key)`` (``printf %s KEY | sha256sum`` gives the same).
A lookup hashes the presented key once and compares it with every stored hash with
``hmac.compare_digest`` (no early exit), so the time taken says nothing about how close a
guess was.

Roles:

- ``trader``: order entry, order updates and order lookups for its own ``account`` only;
  market data and the public views (ListInstruments, Status, Depth);
- ``marketdata``: market data and the public views only;
- ``admin``: everything, any account (AddInstrument, Halt, Resume, Snapshot,
  ReleaseIdle need it).

Failures: no key or an unknown key is ``UNAUTHENTICATED`` ("missing x-api-key" /
"unknown API key", nothing else); a call the role may not make is ``PERMISSION_DENIED``.
Without a config file the server runs *open*: every call is an admin of no particular
account (for a laptop; ``whistle serve`` then listens on 127.0.0.1 only and says so).
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import json
import os
import tomllib
from pathlib import Path
from typing import Final, final

import msgspec

from whistle.core.errors import WhistleError
from whistle.core.limits import MAX_ACCOUNT, MIN_ACCOUNT

__all__ = [
    "API_KEY_HEADER",
    "AuthConfig",
    "AuthConfigError",
    "Authenticator",
    "Identity",
    "KeyEntry",
    "Role",
    "hash_key",
    "load_config",
    "new_key",
]

API_KEY_HEADER: Final = "x-api-key"
_MAX_KEY_CHARS: Final = 512


class AuthConfigError(WhistleError, ValueError):
    """The key configuration is unusable (says which entry and why)."""


class Role(enum.Enum):
    """What a key may do."""

    TRADER = "trader"
    MARKETDATA = "marketdata"
    ADMIN = "admin"


@final
class Identity(msgspec.Struct, frozen=True, kw_only=True):
    """Who a call is: the key's name, role and account (a trader's; else None)."""

    name: str
    role: Role
    account: int | None
    orders_per_sec: float | None = None
    burst: int | None = None
    max_streams: int | None = None

    @property
    def is_admin(self) -> bool:
        """Return whether the key is an admin."""
        return self.role is Role.ADMIN

    @property
    def trades(self) -> bool:
        """Return whether the key may enter orders (trader or admin)."""
        return self.role is not Role.MARKETDATA

    @property
    def own_account(self) -> int | None:
        """Return the account a trader is bound to (None: an admin or market-data key)."""
        return self.account if self.role is Role.TRADER else None


OPEN_IDENTITY: Final = Identity(name="open", role=Role.ADMIN, account=None)
"""Every caller of a server without a key configuration."""


@final
class KeyEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One configured key (the ``[[keys]]`` table)."""

    name: str
    sha256: str
    role: str
    account: int | None = None
    orders_per_sec: float | None = None
    burst: int | None = None
    max_streams: int | None = None


@final
class LimitsEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Server-wide defaults (the ``[limits]`` table); see ``whistle.api.limits``."""

    orders_per_sec: float = 10_000.0
    burst: int = 20_000
    max_streams: int = 64
    max_message_bytes: int = 4 * 1024 * 1024
    order_update_queue: int = 100_000
    md_max_pending: int = 50_000


@final
class AuthConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A server's config file: keys and limits."""

    keys: list[KeyEntry] = msgspec.field(default_factory=list)
    limits: LimitsEntry = msgspec.field(default_factory=LimitsEntry)


def hash_key(key: str) -> str:
    """Return the hex SHA-256 of ``key``'s UTF-8 bytes (what the config stores)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """Return a fresh random API key (32 bytes from ``os.urandom``, URL-safe base64)."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii").rstrip("=")


def load_config(path: str | os.PathLike[str]) -> AuthConfig:
    """Read a TOML (``.toml``) or JSON config file; ``AuthConfigError`` names the problem."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise AuthConfigError(f"{file}: cannot read the config file: {exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8")) if file.suffix == ".toml" else json.loads(raw)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise AuthConfigError(f"{file}: not valid {file.suffix or 'JSON'}: {exc}") from None
    try:
        config = msgspec.convert(data, AuthConfig)
    except msgspec.ValidationError as exc:
        raise AuthConfigError(f"{file}: {exc}") from None
    _check(config, file)
    return config


def _check(config: AuthConfig, file: Path) -> None:
    names: set[str] = set()
    hashes: set[str] = set()
    for index, entry in enumerate(config.keys):
        where = f"{file}: keys[{index}] ({entry.name!r})"
        if entry.name in names:
            raise AuthConfigError(f"{where}: the name is used twice")
        names.add(entry.name)
        digest = entry.sha256.lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise AuthConfigError(f"{where}: sha256 must be 64 hex digits (hash_key(key))")
        if digest in hashes:
            raise AuthConfigError(f"{where}: the same key is configured twice")
        hashes.add(digest)
        try:
            role = Role(entry.role)
        except ValueError:
            raise AuthConfigError(
                f"{where}: role must be trader, marketdata or admin, was {entry.role!r}"
            ) from None
        if role is Role.TRADER:
            account = entry.account
            if type(account) is not int or not MIN_ACCOUNT <= account <= MAX_ACCOUNT:
                raise AuthConfigError(
                    f"{where}: a trader needs an account in {MIN_ACCOUNT}..{MAX_ACCOUNT},"
                    f" was {account!r}"
                )
        if entry.orders_per_sec is not None and not entry.orders_per_sec > 0:
            raise AuthConfigError(f"{where}: orders_per_sec must be > 0")
        if entry.burst is not None and entry.burst < 1:
            raise AuthConfigError(f"{where}: burst must be >= 1")
        if entry.max_streams is not None and entry.max_streams < 0:
            raise AuthConfigError(f"{where}: max_streams must be >= 0")
    limits = config.limits
    for name in ("burst", "max_message_bytes", "order_update_queue", "md_max_pending"):
        if getattr(limits, name) < 1:
            raise AuthConfigError(f"{file}: limits.{name} must be >= 1")
    if not limits.orders_per_sec > 0:
        raise AuthConfigError(f"{file}: limits.orders_per_sec must be > 0")
    if limits.max_streams < 0:
        raise AuthConfigError(f"{file}: limits.max_streams must be >= 0")


@final
class Authenticator:
    """Map a presented key to an ``Identity`` (or None: unknown), in constant time per key."""

    def __init__(self, config: AuthConfig | None) -> None:
        self.open = config is None
        self._entries: list[tuple[bytes, Identity]] = []
        if config is not None:
            for entry in config.keys:
                role = Role(entry.role)
                identity = Identity(
                    name=entry.name,
                    role=role,
                    account=entry.account if role is Role.TRADER else None,
                    orders_per_sec=entry.orders_per_sec,
                    burst=entry.burst,
                    max_streams=entry.max_streams,
                )
                self._entries.append((bytes.fromhex(entry.sha256), identity))
        # The last key seen and its identity: a stream of calls with one key (the common
        # case) skips the hash. Compared with compare_digest too.
        self._last: tuple[str, Identity] | None = None

    def identify(self, key: str | bytes | None) -> Identity | None:
        """Return the identity of ``key``; None for no key or an unknown one."""
        if self.open:
            return OPEN_IDENTITY
        if key is None:
            return None
        if isinstance(key, bytes):
            try:
                key = key.decode("utf-8")
            except UnicodeDecodeError:
                return None
        if not key or len(key) > _MAX_KEY_CHARS:
            return None
        last = self._last
        if last is not None and hmac.compare_digest(last[0].encode(), key.encode()):
            return last[1]
        digest = hashlib.sha256(key.encode("utf-8")).digest()
        found: Identity | None = None
        for stored, identity in self._entries:
            if hmac.compare_digest(stored, digest) and found is None:
                found = identity
        if found is not None:
            self._last = (key, found)
        return found
