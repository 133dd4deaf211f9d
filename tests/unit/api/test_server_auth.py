"""API keys: hashed config, constant-time lookup, roles; per-key limits."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from whistle.api.auth import (
    AuthConfig,
    AuthConfigError,
    Authenticator,
    KeyEntry,
    Role,
    hash_key,
    load_config,
    new_key,
)
from whistle.api.limits import KeyLimits, RateLimiter, StreamLimiter, TokenBucket

if TYPE_CHECKING:
    from pathlib import Path


def config(*entries: KeyEntry) -> AuthConfig:
    return AuthConfig(keys=list(entries))


def test_keys_are_stored_hashed_and_looked_up() -> None:
    key = new_key()
    assert len(key) >= 40
    assert new_key() != key
    auth = Authenticator(config(KeyEntry(name="a", sha256=hash_key(key), role="trader", account=7)))
    who = auth.identify(key)
    assert who is not None
    assert (who.name, who.role, who.account, who.own_account) == ("a", Role.TRADER, 7, 7)
    assert auth.identify(key.encode()) == who
    assert auth.identify(key) == who  # the cached path
    for wrong in (None, "", key[:-1], key + "x", "x" * 10_000, b"\xff\xfe"):
        assert auth.identify(wrong) is None
    assert hash_key("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_roles() -> None:
    auth = Authenticator(
        config(
            KeyEntry(name="m", sha256=hash_key("m-key"), role="marketdata"),
            KeyEntry(name="r", sha256=hash_key("r-key"), role="admin", account=3),
        )
    )
    md = auth.identify("m-key")
    admin = auth.identify("r-key")
    assert md is not None
    assert admin is not None
    assert not md.trades
    assert not md.is_admin
    assert admin.trades
    assert admin.is_admin
    assert admin.own_account is None  # an admin is bound to no account
    assert Authenticator(None).identify(None) is not None  # open mode


def test_config_files(tmp_path: Path) -> None:
    toml = tmp_path / "keys.toml"
    toml.write_text(
        f'[[keys]]\nname = "a"\nsha256 = "{hash_key("k")}"\nrole = "trader"\naccount = 1\n'
        "orders_per_sec = 5\n[limits]\nmax_streams = 3\n"
    )
    loaded = load_config(toml)
    assert loaded.keys[0].orders_per_sec == 5
    assert loaded.limits.max_streams == 3
    js = tmp_path / "keys.json"
    js.write_text(json.dumps({"keys": [{"name": "b", "sha256": hash_key("k2"), "role": "admin"}]}))
    assert load_config(js).keys[0].role == "admin"
    bad = {
        "no account": {"keys": [{"name": "a", "sha256": hash_key("k"), "role": "trader"}]},
        "bad role": {"keys": [{"name": "a", "sha256": hash_key("k"), "role": "root"}]},
        "bad hash": {"keys": [{"name": "a", "sha256": "abc", "role": "admin"}]},
        "twice": {
            "keys": [
                {"name": "a", "sha256": hash_key("k"), "role": "admin"},
                {"name": "b", "sha256": hash_key("k"), "role": "admin"},
            ]
        },
        "same name": {
            "keys": [
                {"name": "a", "sha256": hash_key("k"), "role": "admin"},
                {"name": "a", "sha256": hash_key("j"), "role": "admin"},
            ]
        },
        "unknown field": {
            "keys": [{"name": "a", "sha256": hash_key("k"), "role": "admin", "key": "plaintext"}]
        },
        "bad limit": {"limits": {"burst": 0}},
        "negative account": {
            "keys": [{"name": "a", "sha256": hash_key("k"), "role": "trader", "account": -1}]
        },
    }
    for why, data in bad.items():
        path = tmp_path / f"{why}.json"
        path.write_text(json.dumps(data))
        with pytest.raises(AuthConfigError):
            load_config(path)
    broken = tmp_path / "broken.toml"
    broken.write_text("[[keys]\n")
    with pytest.raises(AuthConfigError, match="not valid"):
        load_config(broken)
    with pytest.raises(AuthConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


def test_token_bucket_refuses_past_the_burst_and_refills() -> None:
    now = [0.0]
    bucket = TokenBucket(10.0, 5, lambda: now[0])
    assert bucket.take(3) == 3
    assert bucket.take(3) == 2
    assert bucket.take(1) == 0
    now[0] += 0.25  # 2.5 tokens
    assert bucket.take(5) == 2
    now[0] += 100
    assert bucket.take(10) == 5  # never more than the burst
    with pytest.raises(ValueError):
        TokenBucket(0, 1, lambda: 0.0)


def test_rate_limiter_per_key() -> None:
    now = [0.0]
    rates = RateLimiter(lambda: now[0])
    limits = KeyLimits(1.0, 2, 4)
    assert rates.take("a", limits, 3) == 2
    assert rates.take("b", limits, 1) == 1
    assert rates.refused == 1


def test_stream_limiter() -> None:
    streams = StreamLimiter()
    assert streams.acquire("a", 2)
    assert streams.acquire("a", 2)
    assert not streams.acquire("a", 2)
    assert streams.acquire("b", 2)
    assert streams.open_streams() == 3
    streams.release("a")
    assert streams.acquire("a", 2)
    assert streams.refused == 1
    assert not streams.acquire("c", 0)
