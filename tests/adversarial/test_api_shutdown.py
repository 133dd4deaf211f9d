"""R1: SIGTERM of ``whistle serve --data-dir`` under load.

Three kinds of load at once: unary submits, an OrderEntry stream that reads its replies,
and an OrderEntry stream that never reads (its replies backed up). SIGTERM mid-flight must
drain, checkpoint and stop cleanly (exit 0) within the grace period, and nothing any client
was told was acknowledged (``enq_seq != 0``) may be missing after the restart.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "api"))
from server_harness import KEYS, Stubs, metadata, order_entry_pb2

from whistle.api.auth import hash_key
from whistle.api.v1 import order_entry_pb2_grpc
from whistle.coord import Venue

if TYPE_CHECKING:
    from collections.abc import Iterator

pb = order_entry_pb2


def write_config(path: Path) -> Path:
    lines = []
    for name, (key, role, account) in KEYS.items():
        lines += ["[[keys]]", f'name = "{name}"', f'sha256 = "{hash_key(key)}"', f'role = "{role}"']
        if account is not None:
            lines.append(f"account = {account}")
    lines += ["[limits]", "orders_per_sec = 1000000", "burst = 1000000"]
    path.write_text("\n".join(lines) + "\n")
    return path


def start(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "whistle", "serve", "--port", "0", "--tick-interval", "0", *args],
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
    return proc, f"127.0.0.1:{found.group(2)}"


def finish(proc: subprocess.Popen[str], sig: int) -> tuple[int, str]:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate(timeout=30)
        return -999, err
    return proc.returncode, err


def order(coid: int, price: int) -> pb.SubmitOrderRequest:
    return pb.SubmitOrderRequest(
        symbol="AAPL", side=1, qty="1", price=str(price), client_order_id=coid
    )


def test_sigterm_under_load_drains_and_loses_nothing_acknowledged(tmp_path: Path) -> None:
    config = write_config(tmp_path / "keys.toml")
    data = tmp_path / "venue"
    proc, address = start("--data-dir", str(data), "--config", str(config), "--instrument", "AAPL")
    acked: dict[int, int] = {}  # client_order_id -> venue order id, of every ack seen
    lock = threading.Lock()
    errors: list[BaseException] = []
    stop = threading.Event()

    def ack(coid: int, result: object) -> None:
        if result.enq_seq:  # type: ignore[attr-defined]
            with lock:
                acked[coid] = result.order_id  # type: ignore[attr-defined]

    def unary() -> None:
        stubs = Stubs(address)
        try:
            coid = 1
            while not stop.is_set():
                try:
                    result = stubs.orders.SubmitOrder(
                        order(coid, 1 + coid % 300), metadata=metadata("alice"), timeout=10
                    ).result
                except grpc.RpcError:
                    return
                ack(coid, result)
                coid += 1
        except BaseException as exc:
            errors.append(exc)
        finally:
            stubs.close()

    def streamed() -> None:
        stubs = Stubs(address)

        def reqs() -> Iterator[pb.OrderEntryRequest]:
            base = 10_000_000
            i = 0
            while not stop.is_set():
                yield pb.OrderEntryRequest(
                    commands=[
                        pb.OrderCommand(request_id=base + i + j, submit=order(base + i + j, 1 + j))
                        for j in range(20)
                    ]
                )
                i += 20

        try:
            for response in stubs.orders.OrderEntry(reqs(), metadata=metadata("alice"), timeout=60):
                for reply in response.replies:
                    ack(reply.request_id, reply.result)
        except grpc.RpcError:
            return
        except BaseException as exc:
            errors.append(exc)
        finally:
            stubs.close()

    silent_channel = grpc.insecure_channel(address, options=[("grpc.http2.bdp_probe", 0)])

    def silent_reqs() -> Iterator[pb.OrderEntryRequest]:
        base = 20_000_000
        for i in range(0, 200_000, 20):
            if stop.is_set():
                return
            yield pb.OrderEntryRequest(
                commands=[
                    pb.OrderCommand(request_id=base + i + j, submit=order(base + i + j, 1 + j))
                    for j in range(20)
                ]
            )

    silent = order_entry_pb2_grpc.OrderEntryServiceStub(silent_channel).OrderEntry(
        silent_reqs(), metadata=metadata("alice")
    )
    workers = [threading.Thread(target=unary), threading.Thread(target=streamed)]
    try:
        for w in workers:
            w.start()
        while proc.poll() is None and not errors:
            with lock:
                if len(acked) >= 600:
                    break
            threading.Event().wait(0.01)
        code, err = finish(proc, signal.SIGTERM)
        stop.set()
        for w in workers:
            w.join(60)
        silent.cancel()
    finally:
        stop.set()
        silent_channel.close()
        finish(proc, signal.SIGKILL)
    assert not errors, errors
    assert code == 0, err[-2000:]
    assert "stopped" in err
    assert len(acked) >= 600
    venue = Venue(data_dir=data)
    try:
        assert venue.recovery is not None
        assert venue.recovery.clean_stop
        resting = {o.order_id for o in venue.l3("AAPL")}
        missing = [c for c, oid in acked.items() if oid not in resting]
        assert not missing, f"{len(missing)} acknowledged orders lost, e.g. {missing[:5]}"
        for coid, oid in acked.items():
            held = venue.client_order(7, coid)
            assert held is not None
            assert held.order_id == oid
    finally:
        venue.stop()
