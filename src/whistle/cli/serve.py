"""``whistle serve``: the venue on the network (gRPC; optionally the live web view)."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from whistle.cli.hostopts import host_options

if TYPE_CHECKING:
    from whistle.api.backend import Backend

__all__ = ["serve"]

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _instrument_spec(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> list[tuple[str, str, str]]:
    out = []
    for value in values:
        parts = value.split(":")
        if not 1 <= len(parts) <= 3 or not parts[0]:
            raise click.BadParameter(f"expected SYMBOL[:TICK[:LOT]], was {value!r}")
        out.append(
            (parts[0], parts[1] if len(parts) > 1 else "0.01", parts[2] if len(parts) > 2 else "1")
        )
    return out


@click.command("serve")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=50051,
    show_default=True,
    help="gRPC port (0: any free port; the one taken is printed).",
)
@click.option(
    "--host",
    "bind",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Without --config only a loopback address is allowed.",
)
@click.option(
    "--hosts",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Engine-host processes (0: every engine in the server process).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Journal every command (acknowledged = journaled) and recover from it on start.",
)
@click.option(
    "--fsync",
    type=click.Choice(["none", "interval", "every"]),
    default="none",
    show_default=True,
    help="The journal's fsync policy (see whistle.coord durability).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="TOML/JSON file of hashed API keys and limits (whistle.api.auth);"
    " without it the server is open (every caller is admin) on loopback only.",
)
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="PEM certificate chain (with --tls-key): serve TLS only.",
)
@click.option(
    "--tls-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="PEM private key of --tls-cert.",
)
@click.option(
    "--http",
    type=click.IntRange(0, 65535),
    default=None,
    help="Also serve the live web view on this port (same address).",
)
@click.option(
    "--instrument",
    "instruments",
    multiple=True,
    callback=_instrument_spec,
    metavar="SYMBOL[:TICK[:LOT]]",
    help="Define this symbol at start unless it exists (repeatable).",
)
@click.option(
    "--tick-interval",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Seconds between idle clock ticks, so GTD orders expire (0: never).",
)
@click.option(
    "--cluster",
    "cluster_url",
    default=None,
    metavar="NATS_URL",
    help="Serve a whistle cluster (whistle.cluster) instead of an in-process venue.",
)
@click.option("--db", "db_url", default=None, help="The cluster's control-plane database URL.")
@click.option(
    "--cluster-prefix",
    default="whistle",
    show_default=True,
    help="The cluster's subject/stream prefix.",
)
@click.option(
    "--cluster-schema",
    default="whistle_cluster",
    show_default=True,
    help="The cluster control plane's database schema.",
)
@host_options
def serve(
    port: int,
    bind: str,
    hosts: int,
    data_dir: Path | None,
    fsync: str,
    config_file: Path | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    http: int | None,
    instruments: list[tuple[str, str, str]],
    tick_interval: float,
    cluster_url: str | None,
    db_url: str | None,
    cluster_prefix: str,
    cluster_schema: str,
    wait: str,
    queue_depth: int,
    heartbeat_s: float,
    dead_after_s: float,
) -> None:
    """Serve a venue over gRPC until SIGINT/SIGTERM (then drain, checkpoint, stop).

    Prints one line "whistle serve: listening on HOST:PORT ..." once it accepts calls.
    """
    from whistle.api.auth import Authenticator, load_config
    from whistle.api.server import ServerConfig

    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    auth_config = load_config(config_file) if config_file is not None else None
    if auth_config is None and bind not in _LOOPBACK:
        raise click.UsageError(
            f"without --config the server is open (every caller is admin): it listens on"
            f" loopback only, not {bind!r}"
        )
    if cluster_url is not None and db_url is None:
        raise click.UsageError("--cluster needs --db (the control plane's database URL)")
    if cluster_url is not None and (data_dir is not None or hosts):
        raise click.UsageError("--cluster serves the cluster's venues: no --data-dir or --hosts")
    limits = auth_config.limits if auth_config is not None else None
    tuned: dict[str, Any] = {}
    if limits is not None:
        tuned = {
            "max_message_bytes": limits.max_message_bytes,
            "orders_per_sec": limits.orders_per_sec,
            "burst": limits.burst,
            "max_streams": limits.max_streams,
            "order_update_queue": limits.order_update_queue,
            "md_max_pending": limits.md_max_pending,
        }
    config = ServerConfig(
        host=bind,
        port=port,
        tick_interval_s=tick_interval,
        tls_cert=tls_cert.read_bytes() if tls_cert is not None else None,
        tls_key=tls_key.read_bytes() if tls_key is not None else None,
        **tuned,
    )
    options: dict[str, Any] = {
        "hosts": hosts,
        "data_dir": data_dir,
        "fsync": fsync,
        "wait": wait,
        "queue_depth": queue_depth,
        "host_heartbeat_s": heartbeat_s,
        "host_dead_after_s": dead_after_s,
    }
    asyncio.run(
        _serve(
            config,
            Authenticator(auth_config),
            options,
            instruments,
            http,
            cluster_url,
            db_url,
            (cluster_prefix, cluster_schema),
        )
    )


async def _backend(
    options: dict[str, Any],
    cluster_url: str | None,
    db_url: str | None,
    cluster: tuple[str, str],
) -> Backend:
    if cluster_url is not None:
        from whistle.cluster.frontend import ClusterBackend

        assert db_url is not None  # checked by serve()
        prefix, schema = cluster
        backend: Backend = await ClusterBackend.connect(
            cluster_url, db_url, prefix=prefix, schema=schema
        )
        return backend
    from whistle.api.backend import LocalBackend
    from whistle.coord import Venue

    venue = Venue(**options)
    recovery = venue.recovery
    if recovery is not None:
        click.echo(f"whistle serve: recovered {options['data_dir']}: {recovery}", err=True)
    return LocalBackend(venue, data_dir=options["data_dir"])


async def _serve(
    config: Any,
    auth: Any,
    options: dict[str, Any],
    instruments: list[tuple[str, str, str]],
    http: int | None,
    cluster_url: str | None,
    db_url: str | None,
    cluster: tuple[str, str],
) -> None:
    from whistle.api.server import WhistleServer
    from whistle.core.instrument import Instrument

    backend = await _backend(options, cluster_url, db_url, cluster)
    try:
        for symbol, tick, lot in instruments:
            if backend.instrument(symbol) is None:
                await backend.add_instrument(
                    Instrument(symbol=symbol, tick_size=tick, lot_size=lot)
                )
        server = WhistleServer(backend, auth=auth, config=config)
        port = await server.start()
    except BaseException:
        await backend.close()
        raise
    web = None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        if http is not None:
            from whistle.api.web import start_web

            web = await start_web(server.hub, backend, host=config.host, port=http)
        await server.serving()
        scheme = "tls" if config.tls_cert is not None else "insecure"
        extra = f", web view on http://{config.host}:{web.port}/" if web is not None else ""
        mode = "open (no --config: every caller is admin)" if auth.open else "API keys required"
        click.echo(f"whistle serve: listening on {config.host}:{port} ({scheme}, {mode}){extra}")
        sys.stdout.flush()
        await stop.wait()
        click.echo("whistle serve: stopping (draining, checkpointing)", err=True)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if web is not None:
            await web.close()
        await server.stop()
    click.echo("whistle serve: stopped", err=True)
