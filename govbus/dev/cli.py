"""`govbus dev ...`: local Kafka and PostgreSQL for development and tests."""

from __future__ import annotations

import sys
import time
from typing import NoReturn

import typer

from govbus import ErrorCode, local_env_target, read_local_env, write_local_env
from govbus.dev import kafka, paths, postgres
from govbus.dev.jars import FetchError, fetch_jars

dev_app = typer.Typer(help="Local infrastructure for development and tests.", no_args_is_help=True)
kafka_app = typer.Typer(help="A local KRaft Kafka cluster (Java, no Docker).", no_args_is_help=True)
postgres_app = typer.Typer(help="A throwaway PostgreSQL server on loopback.", no_args_is_help=True)
dev_app.add_typer(kafka_app, name="kafka")
dev_app.add_typer(postgres_app, name="postgres")

NAME_OPTION = typer.Option(
    "local", "--name", metavar="NAME", help="Cluster name; its state is .govbus/<kind>/<name>."
)
RECORD_OPTION = typer.Option(
    True,
    "--record/--no-record",
    help="Record the address in .govbus/env, so later commands use this cluster.",
)
_KAFKA_SETTINGS = (
    "GOVBUS_BOOTSTRAP_SERVERS",
    "GOVBUS_SECURITY_PROTOCOL",
    "GOVBUS_SASL_MECHANISM",
    "GOVBUS_SASL_USERNAME",
    "GOVBUS_SASL_PASSWORD",
)


def register(app: typer.Typer) -> None:
    app.add_typer(dev_app, name="dev")


def _say(message: str) -> None:
    # Progress goes to stderr so stdout carries only the address, for `$(govbus dev kafka up)`.
    typer.echo(message, err=True)


def _fail(error: Exception) -> NoReturn:
    """`error LAUNCH_FAILED: …` (a launch failure's log tail follows on the next lines); exit 2."""
    _say(f"error {ErrorCode.LAUNCH_FAILED}: {error}")
    raise typer.Exit(2) from None


def record_cluster(handle: kafka.ClusterHandle) -> None:
    """Write the cluster's address (and, if secure, its admin login) to the local record."""
    target = local_env_target(paths.state_root())
    if target is None:
        return
    admin = handle.admin
    updates: dict[str, str | None] = dict.fromkeys(_KAFKA_SETTINGS)
    updates["GOVBUS_BOOTSTRAP_SERVERS"] = handle.bootstrap_servers
    if admin is not None:
        updates |= {
            "GOVBUS_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "GOVBUS_SASL_MECHANISM": admin.mechanism,
            "GOVBUS_SASL_USERNAME": admin.username,
            "GOVBUS_SASL_PASSWORD": admin.password,
        }
    write_local_env(target, updates)
    _say(f"recorded in {target} (see `govbus env`)")


def forget_cluster(bootstrap_servers: str) -> None:
    """Drop the record of a cluster that is gone, if the record points at it."""
    target = local_env_target(paths.state_root())
    if target is None or not target.is_file():
        return
    if read_local_env(target).get("GOVBUS_BOOTSTRAP_SERVERS") == bootstrap_servers:
        write_local_env(target, dict.fromkeys(_KAFKA_SETTINGS))
        _say(f"removed its address from {target}")


@kafka_app.command("fetch")
def kafka_fetch() -> None:
    """Download the broker's jars with Maven into the cache (once)."""
    started = time.monotonic()
    try:
        fetched = fetch_jars()
    except FetchError as error:
        _fail(error)
    verb = "fetched" if fetched.downloaded else "already present"
    _say(f"kafka jars {verb} in {fetched.directory} ({time.monotonic() - started:.1f}s)")


@kafka_app.command("up")
def kafka_up(
    name: str = NAME_OPTION,
    brokers: int | None = typer.Option(
        None, "--brokers", help="1, or 3 for a replicated quorum [default: 1, or as running]."
    ),
    secure: bool | None = typer.Option(
        None, "--secure/--plaintext", help="SASL/SCRAM-SHA-512 and ACLs [default: plaintext]."
    ),
    base_port: int | None = typer.Option(
        None, "--port", metavar="PORT", help="First port (default: free ports)."
    ),
    record: bool = RECORD_OPTION,
) -> None:
    """Start the cluster (or confirm it runs), record it in .govbus/env and print its
    bootstrap address."""
    status = kafka.cluster_status(name)
    # Unspecified options mean "as it is", so a bare `up` on any running cluster is a no-op.
    recorded = status.handle if status is not None else None
    if brokers is None:
        brokers = len(recorded.nodes) if recorded else 1
    if secure is None:
        secure = recorded.secure if recorded else False
    started = time.monotonic()
    try:
        handle = kafka.start_cluster(name, brokers, secure, base_port, log=_say)
    except (kafka.KafkaLaunchError, FetchError, ValueError) as error:
        _fail(error)
    if status is not None and status.all_running and status.healthy:
        _say(f"kafka {name!r} already running")
    else:
        _say(f"kafka {name!r} up in {time.monotonic() - started:.1f}s")
    if handle.admin is not None:
        _say(
            f"admin credentials: {handle.admin.mechanism} user {handle.admin.username!r}, "
            f"password in {handle.directory / 'cluster.json'}"
        )
    if record:
        record_cluster(handle)
    typer.echo(handle.bootstrap_servers)


@kafka_app.command("down")
def kafka_down(name: str = NAME_OPTION) -> None:
    """Stop the cluster's processes and delete its state (and its entry in .govbus/env)."""
    recorded = kafka.load_cluster(name)
    try:
        stopped = kafka.stop_cluster(name)
    except kafka.KafkaLaunchError as error:
        _fail(error)
    _say(f"kafka {name!r} stopped and removed" if stopped else f"no kafka cluster {name!r}")
    if recorded is not None:
        forget_cluster(recorded.bootstrap_servers)


@kafka_app.command("status")
def kafka_status(name: str = NAME_OPTION) -> None:
    """Show nodes, pids and health; exit 1 unless every node runs and serves metadata."""
    status = kafka.cluster_status(name)
    if status is None:
        _say(f"no kafka cluster {name!r}")
        raise typer.Exit(1)
    handle = status.handle
    typer.echo(f"cluster:   {handle.name} ({'secure' if handle.secure else 'plaintext'})")
    typer.echo(f"bootstrap: {handle.bootstrap_servers}")
    typer.echo(f"state:     {handle.directory}")
    typer.echo(f"id:        {handle.cluster_id}")
    for node in handle.nodes:
        pid = status.running.get(node.node_id)
        state = f"running pid {pid}" if pid else "stopped"
        typer.echo(
            f"node {node.node_id}:    broker {node.broker_port}, "
            f"controller {node.controller_port}, {state}"
        )
    typer.echo(f"healthy:   {'yes' if status.healthy else 'no'}")
    if not (status.all_running and status.healthy):
        raise typer.Exit(1)


@postgres_app.command("up")
def postgres_up(
    name: str = NAME_OPTION,
    port: int | None = typer.Option(None, "--port", help="Port (default: a free one)."),
) -> None:
    """Start the server (or confirm it runs) and print its DSN."""
    try:
        server = postgres.start_postgres(name, port)
    except postgres.PostgresLaunchError as error:
        _fail(error)
    _say(f"postgres {name!r} running, data in {server.data_dir}")
    typer.echo(server.dsn())


@postgres_app.command("down")
def postgres_down(name: str = NAME_OPTION) -> None:
    """Stop the server and delete its data."""
    try:
        stopped = postgres.stop_postgres(name)
    except postgres.PostgresLaunchError as error:
        _fail(error)
    _say(f"postgres {name!r} stopped and removed" if stopped else f"no postgres {name!r}")


@postgres_app.command("status")
def postgres_status(name: str = NAME_OPTION) -> None:
    """Show the DSN and whether the server runs; exit 1 if it does not."""
    server = postgres.load_postgres(name)
    if server is None:
        _say(f"no postgres {name!r}")
        raise typer.Exit(1)
    running = server.is_running()
    typer.echo(f"dsn:     {server.dsn()}")
    typer.echo(f"data:    {server.data_dir}")
    typer.echo(f"running: {'yes, pid ' + str(server.pid()) if running else 'no'}")
    if not running:
        sys.exit(1)
