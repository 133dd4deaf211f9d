"""Server lifecycle: restart with a data directory, kill -9, SIGTERM drain, TLS, the CLI."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from typing import TYPE_CHECKING

import grpc
import pytest
from server_harness import KEYS, ServerThread, Stubs, metadata, order_entry_pb2

from whistle.api.server import ServerConfig
from whistle.coord import Venue

if TYPE_CHECKING:
    from pathlib import Path

pb = order_entry_pb2


def test_acknowledged_orders_survive_a_graceful_restart(tmp_path: Path) -> None:
    data = tmp_path / "venue"
    venue = Venue(data_dir=data)
    venue.add_instrument("AAPL", tick_size="0.01")
    venue.add_instrument("MSFT", tick_size="0.01")
    thread = ServerThread(venue, data_dir=data)
    stubs = Stubs(thread.address)
    acked = []
    try:
        # a trade on MSFT: its fills are history the restarted server must still give
        for who, side in (("alice", 1), ("bob", 2)):
            stubs.orders.SubmitOrder(
                pb.SubmitOrderRequest(symbol="MSFT", side=side, qty="2", price="5"),
                metadata=metadata(who),
            )
        fills_before = stubs.orders.ListFills(pb.ListFillsRequest(), metadata=metadata("alice"))
        assert len(fills_before.fills) == 1
        for i in range(20):
            result = stubs.orders.SubmitOrder(
                pb.SubmitOrderRequest(
                    symbol="AAPL", side=1, qty="1", price=str(10 + i), client_order_id=i + 1
                ),
                metadata=metadata("alice"),
            ).result
            assert result.enq_seq
            acked.append((i + 1, result.order_id))
    finally:
        stubs.close()
        thread.close()  # drains, checkpoints, journals a clean stop
    again = Venue(data_dir=data)
    assert again.recovery is not None
    assert again.recovery.clean_stop
    thread = ServerThread(again, data_dir=data)
    stubs = Stubs(thread.address)
    try:
        open_orders = stubs.orders.ListOpenOrders(
            pb.ListOpenOrdersRequest(), metadata=metadata("alice")
        ).orders
        assert sorted(o.order_id for o in open_orders) == sorted(oid for _, oid in acked)
        for coid, oid in acked:
            held = stubs.orders.GetClientOrder(
                pb.GetClientOrderRequest(client_order_id=coid), metadata=metadata("alice")
            )
            assert held.order_id == oid
        # a resubmission after the restart changes nothing
        repeat = stubs.orders.SubmitOrder(
            pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", price="10", client_order_id=1),
            metadata=metadata("alice"),
        ).result
        assert repeat.enq_seq == 0
        assert repeat.events[0].WhichOneof("kind") == "duplicate_client_order"
        # the fill history is read back from the event journal
        history = stubs.orders.ListFills(pb.ListFillsRequest(), metadata=metadata("alice"))
        assert history.complete
        assert list(history.fills) == list(fills_before.fills)
        # new automatic order ids continue after the journaled ones
        fresh = stubs.orders.SubmitOrder(
            pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", price="9"),
            metadata=metadata("alice"),
        ).result
        assert fresh.order_id > max(oid for _, oid in acked)
    finally:
        stubs.close()
        thread.close()


def write_config(path: Path) -> Path:
    from whistle.api.auth import hash_key

    lines = []
    for name, (key, role, account) in KEYS.items():
        lines += ["[[keys]]", f'name = "{name}"', f'sha256 = "{hash_key(key)}"', f'role = "{role}"']
        if account is not None:
            lines.append(f"account = {account}")
    lines += ["[limits]", "orders_per_sec = 1000000", "burst = 1000000"]
    path.write_text("\n".join(lines) + "\n")
    return path


LINES: dict[int, str] = {}  # pid -> the "listening on" line


def start_cli(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "whistle", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    found = re.search(r"listening on (\S+):(\d+)", line)
    if found is None:
        proc.kill()
        out, err = proc.communicate(timeout=30)
        raise AssertionError(f"serve did not start: {line!r} {out!r} {err!r}")
    LINES[proc.pid] = line
    return proc, f"127.0.0.1:{found.group(2)}"


def stop_cli(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> tuple[int, str]:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate(timeout=30)
    return proc.returncode, err


def test_kill_9_loses_nothing_acknowledged(tmp_path: Path) -> None:
    config = write_config(tmp_path / "keys.toml")
    data = tmp_path / "venue"
    proc, address = start_cli(
        "--data-dir",
        str(data),
        "--config",
        str(config),
        "--instrument",
        "AAPL",
        "--tick-interval",
        "0",
    )
    acked: dict[int, int] = {}
    errors: list[BaseException] = []
    stop = threading.Event()

    def load(start: int) -> None:
        stubs = Stubs(address)
        try:
            coid = start
            while not stop.is_set():
                try:
                    result = stubs.orders.SubmitOrder(
                        pb.SubmitOrderRequest(
                            symbol="AAPL", side=1, qty="1", price="1", client_order_id=coid
                        ),
                        metadata=metadata("alice"),
                        timeout=10,
                    ).result
                except grpc.RpcError:
                    return  # the server died under us: unacknowledged
                if result.enq_seq:
                    acked[coid] = result.order_id
                coid += 1
        except BaseException as exc:
            errors.append(exc)
        finally:
            stubs.close()

    try:
        workers = [threading.Thread(target=load, args=(k * 1_000_000 + 1,)) for k in range(3)]
        for w in workers:
            w.start()
        while len(acked) < 150 and proc.poll() is None and not errors:
            threading.Event().wait(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        stop.set()
        for w in workers:
            w.join(30)
    finally:
        stop.set()
        stop_cli(proc, signal.SIGKILL)
    assert not errors
    assert len(acked) >= 150
    proc, address = start_cli(
        "--data-dir", str(data), "--config", str(config), "--tick-interval", "0"
    )
    stubs = Stubs(address)
    try:
        resting = {
            o.order_id
            for o in stubs.orders.ListOpenOrders(
                pb.ListOpenOrdersRequest(), metadata=metadata("alice")
            ).orders
        }
        missing = [coid for coid, oid in acked.items() if oid not in resting]
        assert not missing, f"{len(missing)} acknowledged orders lost, e.g. {missing[:5]}"
        for coid, oid in list(acked.items())[:20]:
            held = stubs.orders.GetClientOrder(
                pb.GetClientOrderRequest(client_order_id=coid), metadata=metadata("alice")
            )
            assert held.order_id == oid
    finally:
        stubs.close()
        code, err = stop_cli(proc)
    assert code == 0, err
    assert "stopped" in err


def test_sigterm_drains_checkpoints_and_stops_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "venue"
    proc, address = start_cli("--data-dir", str(data), "--instrument", "AAPL:0.01:1")
    stubs = Stubs(address)
    try:
        # a second server on the same port is refused (exit 74), never sharing it
        port = address.rsplit(":", 1)[1]
        second = subprocess.run(
            [sys.executable, "-m", "whistle", "serve", "--port", port, "--tick-interval", "0"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 74, second.stderr
        assert f"cannot listen on 127.0.0.1:{port}" in second.stderr
        updates = stubs.orders.SubscribeOrderUpdates(
            pb.SubscribeOrderUpdatesRequest(account=3), metadata=()
        )
        updates.initial_metadata()  # registered
        result = stubs.orders.SubmitOrder(
            pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="2", price="5", account=3), metadata=()
        ).result
        assert result.enq_seq == 1
        assert next(updates).events[0].order_accepted.order_id == result.order_id
        code, err = stop_cli(proc)
        # the open subscription ends when the server stops
        with pytest.raises((grpc.RpcError, StopIteration)):
            next(updates)
    finally:
        stubs.close()
        stop_cli(proc, signal.SIGKILL)
    assert code == 0, err
    venue = Venue(data_dir=data)
    try:
        assert venue.recovery is not None
        assert venue.recovery.clean_stop
        assert [o.order_id for o in venue.l3("AAPL")] == [result.order_id]
    finally:
        venue.stop()


def test_open_mode_refuses_non_loopback_and_bad_configs(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from whistle.cli.main import main

    runner = CliRunner()
    run = runner.invoke(main, ["serve", "--host", "0.0.0.0", "--port", "0"])
    assert run.exit_code == 2
    assert "loopback" in run.output
    bad = tmp_path / "bad.toml"
    bad.write_text('[[keys]]\nname = "x"\nsha256 = "00"\nrole = "trader"\naccount = 1\n')
    run = runner.invoke(main, ["serve", "--port", "0", "--config", str(bad)])
    assert run.exit_code == 65, run.output
    assert "sha256 must be 64 hex digits" in run.output


def make_cert(tmp_path: Path) -> tuple[bytes, bytes]:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert.read_bytes(), key.read_bytes()


def test_tls(tmp_path: Path) -> None:
    if not any(
        os.access(os.path.join(p, "openssl"), os.X_OK)
        for p in os.environ.get("PATH", "").split(":")
    ):
        pytest.skip("no openssl to make a test certificate")
    cert, key = make_cert(tmp_path)
    venue = Venue()
    venue.add_instrument("AAPL")
    thread = ServerThread(
        venue, config=ServerConfig(port=0, tick_interval_s=0, tls_cert=cert, tls_key=key)
    )
    try:
        secure = Stubs(
            f"localhost:{thread.port}", grpc.ssl_channel_credentials(root_certificates=cert)
        )
        try:
            result = secure.orders.SubmitOrder(
                pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", price="1"),
                metadata=metadata("alice"),
            ).result
            assert result.enq_seq == 1
        finally:
            secure.close()
        plain = Stubs(thread.address)
        try:
            with pytest.raises(grpc.RpcError) as err:
                plain.orders.SubmitOrder(
                    pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", price="1"),
                    metadata=metadata("alice"),
                    timeout=5,
                )
            assert err.value.code() in (
                grpc.StatusCode.UNAVAILABLE,
                grpc.StatusCode.DEADLINE_EXCEEDED,
            )
        finally:
            plain.close()
    finally:
        thread.close()


def test_the_idle_clock_expires_gtd_orders() -> None:
    import time

    venue = Venue()
    venue.add_instrument("AAPL")
    thread = ServerThread(venue, config=ServerConfig(port=0, tick_interval_s=0.05))
    stubs = Stubs(thread.address)
    try:
        updates = stubs.orders.SubscribeOrderUpdates(
            pb.SubscribeOrderUpdatesRequest(), metadata=metadata("alice")
        )
        updates.initial_metadata()
        expire = time.time_ns() + 300_000_000  # the server's clock is Unix-epoch ns
        result = stubs.orders.SubmitOrder(
            pb.SubmitOrderRequest(
                symbol="AAPL", side=1, qty="1", price="1", tif=4, expire_ts_ns=expire
            ),
            metadata=metadata("alice"),
        ).result
        assert result.events[0].WhichOneof("kind") == "order_accepted"
        kinds: list[str] = []
        while "order_expired" not in kinds:
            kinds += [e.WhichOneof("kind") for e in next(updates).events]
        assert kinds == ["order_accepted", "order_expired"]
        assert thread.run(lambda: venue.l3("AAPL")) == []
        updates.cancel()
    finally:
        stubs.close()
        thread.close()


def test_serve_with_host_processes(tmp_path: Path) -> None:
    proc, address = start_cli(
        "--hosts", "1", "--instrument", "AAPL", "--data-dir", str(tmp_path / "v")
    )
    stubs = Stubs(address)
    try:
        for side, price in ((1, "10"), (2, "10")):
            result = stubs.orders.SubmitOrder(
                pb.SubmitOrderRequest(symbol="AAPL", side=side, qty="1", price=price, account=1),
                metadata=(),
            ).result
            assert result.enq_seq
        kinds = [e.WhichOneof("kind") for e in result.events]
        assert "trade_occurred" in kinds
        from server_harness import admin_pb2

        status = stubs.admin.Status(admin_pb2.StatusRequest(), metadata=())
        assert [h.host_id for h in status.hosts] == [0]
        assert status.symbols[0].host_id == 0
    finally:
        stubs.close()
        code, err = stop_cli(proc)
    assert code == 0, err


def test_a_draining_server_refuses_new_commands_with_a_documented_error() -> None:
    from whistle.api.v1 import types_pb2

    venue = Venue()
    venue.add_instrument("AAPL")
    thread = ServerThread(venue)
    stubs = Stubs(thread.address)
    try:
        server = thread.server
        assert server is not None
        thread.run(setattr, server, "_draining", True)  # what stop() sets first
        unary = stubs.orders.SubmitOrder(
            pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", price="1"),
            metadata=metadata("alice"),
        ).result
        assert unary.api_error == types_pb2.API_ERROR_UNAVAILABLE
        command = pb.OrderCommand(
            request_id=1, submit=pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", price="1")
        )
        (reply,) = list(
            stubs.orders.OrderEntry(
                iter([pb.OrderEntryRequest(commands=[command])]), metadata=metadata("alice")
            )
        )
        assert reply.replies[0].result.api_error == types_pb2.API_ERROR_UNAVAILABLE
        assert thread.run(lambda: venue.enq_seq) == 0
        thread.run(setattr, server, "_draining", False)
    finally:
        stubs.close()
        thread.close()


def test_serve_with_the_web_view() -> None:
    import json
    import urllib.request

    proc, address = start_cli("--instrument", "AAPL", "--http", "0")
    try:
        found = re.search(r"web view on (http://\S+/)", LINES[proc.pid])
        assert found is not None, LINES[proc.pid]
        base = found.group(1)
        stubs = Stubs(address)
        try:
            stubs.orders.SubmitOrder(
                pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="3", price="10", account=1),
                metadata=(),
            )
        finally:
            stubs.close()
        with urllib.request.urlopen(base, timeout=30) as page:  # the page itself
            assert page.status == 200
        with urllib.request.urlopen(base + "api/depth/AAPL?levels=5", timeout=30) as reply:
            depth = json.loads(reply.read())
        # the order the gRPC call entered shows on the web view (same hub, same loop)
        assert [row[1:4] for row in depth["bids"]] == [[1000, "3", 3]]
    finally:
        code, err = stop_cli(proc)
    assert code == 0, err


def test_idle_connections_never_use_up_the_servers_descriptors() -> None:
    # 300 idle connections (HTTP/2 preface, no call, no key) against a server limited to
    # 256 file descriptors: the connection quota keeps its descriptors, the idle ones are
    # closed, and a new client gets in (waiting for the channel to be ready).
    import socket

    limited = (
        "import os, resource, sys;"
        " resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256));"
        " os.execv(sys.executable, [sys.executable, '-m', 'whistle', 'serve', *sys.argv[1:]])"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            limited,
            "--port",
            "0",
            "--instrument",
            "AAPL",
            "--tick-interval",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    socks: list[socket.socket] = []
    try:
        assert proc.stdout is not None
        found = re.search(r"listening on \S+?:(\d+)", proc.stdout.readline())
        assert found is not None
        port = int(found.group(1))
        preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
        for _ in range(300):
            try:
                sock = socket.create_connection(("127.0.0.1", port), 1)
                sock.sendall(preface)
            except OSError:
                break
            socks.append(sock)
        stubs = Stubs(f"127.0.0.1:{port}")
        try:
            result = stubs.orders.SubmitOrder(
                pb.SubmitOrderRequest(symbol="AAPL", side=1, qty="1", price="1", account=1),
                timeout=30,
                wait_for_ready=True,
            ).result
            assert result.enq_seq == 1
        finally:
            stubs.close()
    finally:
        for sock in socks:
            sock.close()
        code, err = stop_cli(proc)
    assert code == 0, err
