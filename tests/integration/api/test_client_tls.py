"""The clients over TLS: ``Client(tls=True, root_certificates=...)``, ``AsyncClient`` the same,
``whistle client --ca FILE``; a client that does not trust the certificate cannot connect."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner
from server_harness import KEYS, ServerThread

from whistle.api.aio_client import AsyncClient
from whistle.api.client import Client, ConnectionLost, Retry
from whistle.api.server import ServerConfig
from whistle.cli.client import client
from whistle.coord import Venue
from whistle.core.events import OrderAccepted

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl")


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[tuple[ServerThread, Path]]:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            shutil.which("openssl") or "openssl",
            *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
        env={**os.environ, "RANDFILE": str(tmp_path / ".rnd")},
    )
    venue = Venue()
    venue.add_instrument("AAPL", tick_size="0.01", lot_size="1")
    config = ServerConfig(
        port=0, tick_interval_s=0, tls_cert=cert.read_bytes(), tls_key=key.read_bytes()
    )
    thread = ServerThread(venue, config=config)
    yield thread, cert
    thread.close()


def test_sync_async_and_cli_clients_over_tls(tls: tuple[ServerThread, Path]) -> None:
    server, cert = tls
    target = f"localhost:{server.port}"
    with Client(target, api_key=KEYS["alice"][0], root_certificates=cert) as c:
        assert isinstance(c.submit("AAPL", "buy", "1", "100.00")[0], OrderAccepted)

    async def main() -> None:
        async with AsyncClient(
            target, api_key=KEYS["alice"][0], root_certificates=cert.read_bytes()
        ) as ac:
            events = await ac.submit("AAPL", "buy", "2", "100.00")
            assert isinstance(events[0], OrderAccepted)

    asyncio.run(main())
    result = CliRunner().invoke(
        client,
        [
            "--target",
            target,
            "--api-key",
            KEYS["alice"][0],
            "--ca",
            str(cert),
            "book",
            "AAPL",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert '"bids": [[10000, 3, 2]]' in result.output


def test_a_client_without_the_certificate_cannot_connect(tls: tuple[ServerThread, Path]) -> None:
    server, _cert = tls
    quick = Retry(backoff_s=0.05, max_backoff_s=0.1, reconnect_timeout_s=0.5)
    with (
        Client(
            f"localhost:{server.port}", api_key=KEYS["alice"][0], timeout_s=1, retry=quick
        ) as plain,
        pytest.raises(ConnectionLost),
    ):
        plain.depth("AAPL")
    with (
        Client(
            f"localhost:{server.port}", api_key=KEYS["alice"][0], tls=True, timeout_s=1, retry=quick
        ) as untrusting,
        pytest.raises(ConnectionLost),
    ):
        untrusting.depth("AAPL")  # system roots do not know the self-signed certificate
