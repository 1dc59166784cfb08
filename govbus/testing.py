"""pytest plugin: real Kafka and PostgreSQL for tests, no mocks.

Registered as the `govbus` pytest11 entry point, so any test can ask for:

- `kafka` (session): a `KafkaEndpoint`. From GOVBUS_TEST_BOOTSTRAP (plus optional
  GOVBUS_TEST_KAFKA_CONFIG, a JSON object of client settings) if set; else a
  testcontainers KafkaContainer when a Docker engine answers; else a local broker
  started by `govbus.dev.kafka` and stopped at the end of the session.
- `kafka_cluster3`, `kafka_secure` (session): local launcher `ClusterHandle`s (three
  voters; SASL/SCRAM + ACLs), which can kill and restart nodes. Started only when used.
- `pg_dsn` (session): a fresh database, on GOVBUS_TEST_PG_DSN's server or a throwaway one;
  `pg_database` (function): a new empty database per test.
- `topic_factory` / `unique_topic`: uniquely named topics on `kafka`, deleted afterwards.

With CI=true a server that cannot start fails the tests; elsewhere they are skipped only
when Java or the PostgreSQL binaries are absent from the machine.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic  # admin imports it without re-exporting
from psycopg import sql

from govbus import kafka_logger
from govbus.dev import kafka as kafka_launcher
from govbus.dev import paths, postgres
from govbus.dev.jars import java_available
from govbus.dev.kafka import ClusterHandle

TopicFactory = Callable[..., str]
_SESSION_PREFIX = "pytest-"


def pytest_configure(config: pytest.Config) -> None:
    """Keep a developer's `.govbus/env` out of the tests, and the tests out of it.

    Settings read the nearest `.govbus/env`; a test (or a CLI run in a subprocess) would
    then talk to the developer's broker and store. `GOVBUS_ENV_FILE` points every test at
    an empty record of its own, removed at the end; tests of the record set their own.
    """
    record_dir = Path(tempfile.mkdtemp(prefix="govbus-test-env-"))
    os.environ["GOVBUS_ENV_FILE"] = str(record_dir / "env")
    config.add_cleanup(lambda: shutil.rmtree(record_dir, ignore_errors=True))


@dataclass(frozen=True)
class KafkaEndpoint:
    """Where a test's Kafka is and how to authenticate to it."""

    bootstrap_servers: str
    security: dict[str, str] = field(default_factory=dict, hash=False)

    def client_config(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """librdkafka settings for any client, with `extra` settings on top. Its log lines
        go through structlog, so a test's client never writes raw to the pytest output."""
        return {
            "bootstrap.servers": self.bootstrap_servers,
            "logger": kafka_logger(),
            **self.security,
            **(extra or {}),
        }


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def unavailable(reason: str, *, tool_absent: bool) -> NoReturn:
    """Skip only for a genuinely absent tool outside CI; otherwise fail loudly."""
    if tool_absent and not in_ci():
        pytest.skip(reason)
    pytest.fail(reason, pytrace=False)


def create_topic(
    config: dict[str, str],
    name: str,
    partitions: int = 1,
    replication_factor: int = -1,
    topic_config: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> str:
    """Create a topic (-1: the broker's default replication) and wait for its leaders."""
    admin = AdminClient({**config})
    topic = NewTopic(
        name,
        num_partitions=partitions,
        replication_factor=replication_factor,
        config=topic_config or {},
    )
    admin.create_topics([topic])[name].result(timeout)
    deadline = time.monotonic() + timeout
    while True:
        metadata = admin.list_topics(name, timeout=5.0).topics.get(name)
        ready = (
            metadata is not None
            and metadata.error is None
            and len(metadata.partitions) == partitions
            and all(p.leader >= 0 for p in metadata.partitions.values())
        )
        if ready:
            return name
        if time.monotonic() > deadline:
            raise TimeoutError(f"topic {name} has no leader for every partition")
        time.sleep(0.1)


# --- Kafka -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kafka() -> Iterator[KafkaEndpoint]:
    external = os.environ.get("GOVBUS_TEST_BOOTSTRAP")
    if external:
        extra = json.loads(os.environ.get("GOVBUS_TEST_KAFKA_CONFIG", "{}"))
        yield KafkaEndpoint(external, {str(k): str(v) for k, v in extra.items()})
        return
    container = _start_kafka_container()
    if container is not None:
        try:
            yield KafkaEndpoint(str(container.get_bootstrap_server()))
        finally:
            container.stop()
        return
    with _local_cluster("kafka", brokers=1, secure=False) as handle:
        yield KafkaEndpoint(handle.bootstrap_servers)


@pytest.fixture(scope="session")
def kafka_cluster3() -> Iterator[ClusterHandle]:
    """Three combined nodes (RF 3, min ISR 2); always local, to kill and restart nodes."""
    with _local_cluster("kafka3", brokers=3, secure=False) as handle:
        yield handle


@pytest.fixture(scope="session")
def kafka_secure() -> Iterator[ClusterHandle]:
    """SASL/SCRAM-SHA-512 with ACLs; `handle.admin` is the bootstrapped super user."""
    with _local_cluster("kafka-secure", brokers=1, secure=True) as handle:
        yield handle


@pytest.fixture
def topic_factory(kafka: KafkaEndpoint) -> Iterator[TopicFactory]:
    """`topic_factory(prefix="test", partitions=1, **create_topic_kwargs) -> name`."""
    created: list[str] = []

    def make(prefix: str = "test", partitions: int = 1, **kwargs: Any) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        create_topic(kafka.client_config(), name, partitions, **kwargs)
        created.append(name)
        return name

    yield make
    if created:
        admin = AdminClient({**kafka.client_config()})
        for future in admin.delete_topics(created, operation_timeout=10).values():
            with contextlib.suppress(Exception):  # cleanup only; the broker is throwaway
                future.result(15)


@pytest.fixture
def unique_topic(topic_factory: TopicFactory) -> str:
    return topic_factory()


@contextlib.contextmanager
def _local_cluster(role: str, brokers: int, secure: bool) -> Iterator[ClusterHandle]:
    if not java_available():
        unavailable("java is not installed (deploy/local/install-system-deps.sh)", tool_absent=True)
    _stop_abandoned_sessions()
    name = f"{_SESSION_PREFIX}{os.getpid()}-{role}"
    try:
        handle = kafka_launcher.start_cluster(name, brokers=brokers, secure=secure)
    except Exception as error:
        with contextlib.suppress(Exception):
            kafka_launcher.stop_cluster(name)
        unavailable(f"could not start local Kafka ({role}): {error}", tool_absent=False)
    try:
        yield handle
    finally:
        # Producers that tests dropped are destroyed while the broker still answers; after
        # it stops they would log failed reconnects past pytest's summary line.
        gc.collect()
        kafka_launcher.stop_cluster(name)


def _start_kafka_container() -> Any:
    """A KafkaContainer when Docker answers, else None (no engine is the common case)."""
    try:
        import docker

        docker.from_env().ping()
    except Exception:
        return None
    try:
        try:
            from testcontainers.community.kafka import KafkaContainer
        except ImportError:  # testcontainers before the "community" split
            from testcontainers.kafka import KafkaContainer

        return KafkaContainer().with_kraft().start()
    except Exception as error:
        # Docker answered but the container failed: the local launcher is the fallback.
        print(f"govbus.testing: KafkaContainer failed ({error}); using the local launcher")
        return None


def _stop_abandoned_sessions() -> None:
    """Stop servers left by earlier pytest runs that were killed before their teardown."""
    for kind, stop in (
        ("kafka", kafka_launcher.stop_cluster),
        ("postgres", postgres.stop_postgres),
    ):
        for directory in (paths.state_root() / kind).glob(f"{_SESSION_PREFIX}*"):
            if not _owner_alive(directory.name):
                with contextlib.suppress(Exception):
                    stop(directory.name)
        for lock in (paths.state_root() / kind).glob(f".{_SESSION_PREFIX}*.lock"):
            if not _owner_alive(lock.name.removeprefix(".")):
                lock.unlink(missing_ok=True)


def _owner_alive(session_name: str) -> bool:
    """Whether the pytest process named in `pytest-<pid>-<role>` still runs."""
    owner = session_name.removeprefix(_SESSION_PREFIX).split("-")[0]
    return not owner.isdigit() or Path(f"/proc/{owner}").exists()


# --- PostgreSQL --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server_dsn() -> Iterator[str]:
    """DSN of the server's maintenance database; tests should use `pg_dsn` instead."""
    external = os.environ.get("GOVBUS_TEST_PG_DSN")
    if external:
        yield external
        return
    if postgres.find_bin_dir() is None:
        unavailable(
            "PostgreSQL server binaries not found (deploy/local/install-system-deps.sh)",
            tool_absent=True,
        )
    _stop_abandoned_sessions()
    name = f"{_SESSION_PREFIX}{os.getpid()}-pg"
    try:
        server = postgres.start_postgres(name)
    except Exception as error:
        with contextlib.suppress(Exception):
            postgres.stop_postgres(name)
        unavailable(f"could not start PostgreSQL: {error}", tool_absent=False)
    try:
        yield server.dsn()
    finally:
        postgres.stop_postgres(name)


@pytest.fixture(scope="session")
def pg_dsn(pg_server_dsn: str) -> Iterator[str]:
    """A fresh database for the session (the server user needs CREATEDB)."""
    with _fresh_database(pg_server_dsn, "govbus_session") as dsn:
        yield dsn


@pytest.fixture
def pg_database(pg_server_dsn: str) -> Iterator[str]:
    """A new empty database for one test, dropped afterwards."""
    with _fresh_database(pg_server_dsn, "govbus_test") as dsn:
        yield dsn


@contextlib.contextmanager
def _fresh_database(server_dsn: str, prefix: str) -> Iterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_dsn, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield database_dsn(server_dsn, name)
    finally:
        with psycopg.connect(server_dsn, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def database_dsn(server_dsn: str, database: str) -> str:
    """The same server and credentials, another database; keeps URL or key=value form."""
    if server_dsn.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(server_dsn)
        return urlunsplit(parts._replace(path=f"/{database}"))
    return psycopg.conninfo.make_conninfo(server_dsn, dbname=database)
