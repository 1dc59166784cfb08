"""The sync against the real broker when the store refuses a record or is briefly gone:
a refused record goes to the DLQ with its reason and the partition flows on, a restart
does not replay it; a transient failure is retried and ends applied, not dead-lettered;
a fatal one stops `govbus sync` with one line."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from confluent_kafka import Producer

from govbus import (
    ChangeEvent,
    Contract,
    EntityKind,
    Settings,
    admin_config,
    cloudevent_headers,
    ensure_topics,
)
from govbus.consumers import Store, open_store
from govbus.consumers._refusals import NOT_STORABLE
from govbus.consumers._sync import SyncOptions, SyncService
from govbus.consumers.testing import (
    ReferenceModel,
    Refusing,
    citizen_id,
    person,
    store_state,
    topic_messages,
)
from govbus.testing import KafkaEndpoint

pytestmark = pytest.mark.kafka
PERSON_TOPIC = "govbus.base.person"


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
def settings(kafka: KafkaEndpoint, prefix: str) -> Settings:
    return Settings(bootstrap_servers=kafka.bootstrap_servers, dlq_topic=f"{prefix}dlq")


def create_topics(settings: Settings, contract: Contract, prefix: str) -> None:
    topics = [prefix + t for t in contract.catalog.topics()]
    ensure_topics(admin_config(settings), [*topics, settings.dlq_topic], partitions=3)


def produce_raw(
    settings: Settings, contract: Contract, prefix: str, events: list[ChangeEvent[Any]]
) -> list[bytes]:
    """The events' bytes straight to partition 0, as a department's own client could send
    them: no Publisher, so none of its checks (a NUL in text reaches the topic)."""
    resource = contract.catalog.resource("BR-PERSON")
    producer = Producer({"bootstrap.servers": settings.bootstrap_servers})
    values = []
    for event in events:
        value = contract.encode(resource, event)
        headers = cloudevent_headers(
            event_id=str(event.event_id),
            department=event.source_department,
            entity=str(event.entity),
            occurred_at=event.occurred_at,
            subject=resource.code,
        )
        producer.produce(
            prefix + PERSON_TOPIC,
            key=contract.record_key(event),
            value=value,
            headers=headers,
            partition=0,
        )
        values.append(value)
    assert producer.flush(30) == 0
    return values


def sync_until_idle(
    settings: Settings, contract: Contract, store: Any, prefix: str, batch: int = 5000
) -> None:
    options = SyncOptions(
        topic_prefix=prefix, max_idle_seconds=1.5, batch_max_records=batch, store_retry_seconds=30
    )
    SyncService(settings, contract, store, options).run()


# A CHECK rule on PostgreSQL: a NUL never reaches the store from Kafka now, the sync's own
# checks dead-letter it as UNSTORABLE_TEXT first (tests/consumers/test_unstorable_text.py).
@pytest.mark.parametrize(
    "refusing",
    ["sqlite-too-big", pytest.param("postgresql-check", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_a_record_the_store_refuses_goes_to_the_dlq_and_the_partition_flows_on(
    refusing: Refusing, settings: Settings, contract: Contract, prefix: str
) -> None:
    create_topics(settings, contract, prefix)
    store, topic = refusing.store, prefix + PERSON_TOPIC
    key, other = citizen_id(7), citizen_id(8)
    poisoned = person(key, 2, name=refusing.poison, sex="2")
    events = [person(key, 1, name="一"), person(other, 1, name="二"), poisoned]
    events += [person(key, 3, sex="1"), person(other, 2, name="二二")]
    values = produce_raw(settings, contract, prefix, events)

    sync_until_idle(settings, contract, store, prefix)

    model = ReferenceModel(contract.catalog)
    for event in events:
        if event is not poisoned:
            model.apply(event)
    assert store_state(store, EntityKind.PERSON) == model.expected(EntityKind.PERSON)
    assert store.stored_offsets("base-store")[(topic, 0)] == 5
    (row,) = store.quarantined()
    assert (row.topic, row.partition, row.offset, row.error_code) == (topic, 0, 2, "STORE_REFUSED")
    assert row.reason.startswith("the store refused the record: ")
    for personal in (key, refusing.poison, "一"):
        assert personal not in row.reason
    if refusing.rule == "too-big":  # its bytes are over the limit too: the DLQ keeps them
        assert row.record_value is None and row.reason.endswith(NOT_STORABLE)
    else:
        assert row.record_value == values[2]

    (dead,) = topic_messages(settings, settings.dlq_topic)
    meta = dict(dead.headers())
    assert meta["govbus_error_code"] == b"STORE_REFUSED"
    assert meta["govbus_error_reason"].decode() == row.reason.removesuffix(NOT_STORABLE)
    assert (meta["govbus_original_topic"], meta["govbus_original_offset"]) == (
        topic.encode(),
        b"2",
    )
    assert meta["ce_id"] == str(poisoned.event_id).encode()
    assert dead.value() == values[2]

    # A restart resumes after it, and later records of the partition are applied.
    later = person(key, 4, name="后来")
    produce_raw(settings, contract, prefix, [later])
    sync_until_idle(settings, contract, store, prefix)
    record = store.record(EntityKind.PERSON, key)
    assert record is not None and record.values["name"] == "后来"
    assert record.values["sex"] == "1"
    assert store.stored_offsets("base-store")[(topic, 0)] == 6
    assert len(store.quarantined()) == 1
    assert len(topic_messages(settings, settings.dlq_topic)) == 1


# --- transient failures: a real lock, a real terminated backend ----------------------------


class FaultOnce:
    """The real store; its `at`-th transaction meets `fault` (a real lock taken from
    another connection before it begins, or its backend terminated once it has begun)."""

    def __init__(self, store: Store, fault: Any, *, inside: bool, at: int = 2) -> None:
        self.store = store
        self.fault = fault
        self.inside = inside
        self.at = at
        self.transactions = 0
        self.failures: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    @contextmanager
    def transaction(self, *, native: bool = True) -> Iterator[Any]:
        self.transactions += 1
        faulty = self.transactions == self.at
        try:
            if faulty and not self.inside:
                self.fault(self.store)
            with self.store.transaction(native=native) as tx:
                if faulty and self.inside:
                    self.fault(self.store)
                yield tx
        except Exception as error:
            self.failures.append(type(error).__name__)
            raise


def lock_sqlite_for(path: Path, seconds: float) -> Any:
    def fault(store: Any) -> None:
        store._conn.execute("PRAGMA busy_timeout = 50")  # fail fast rather than wait 60 s
        blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the database

        def release() -> None:
            time.sleep(seconds)
            blocker.execute("ROLLBACK")
            blocker.close()

        threading.Thread(target=release, daemon=True).start()

    return fault


def terminate_backend(dsn: str, pids: list[int]) -> Any:
    def fault(store: Any) -> None:
        pid = store._conn.info.backend_pid
        pids.append(pid)
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
                time.sleep(0.02)

    return fault


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_transient_store_failure_is_retried_and_ends_applied_not_dead_lettered(
    backend: str,
    request: pytest.FixtureRequest,
    settings: Settings,
    contract: Contract,
    prefix: str,
    tmp_path: Path,
) -> None:
    create_topics(settings, contract, prefix)
    pids: list[int] = []
    if backend == "sqlite":
        path = tmp_path / "base.db"
        real = open_store(f"sqlite:///{path}")
        store = FaultOnce(real, lock_sqlite_for(path, seconds=1.5), inside=False)
    else:
        dsn = request.getfixturevalue("pg_database")
        real = open_store(dsn)
        store = FaultOnce(real, terminate_backend(dsn, pids), inside=True)
        terminate_backend(dsn, pids)(real)  # also lost before the sync starts
    # The second batch meets the fault (batches of 10: three at least).
    events = [person(citizen_id(i), 1, name=f"名{i}") for i in range(30)]
    produce_raw(settings, contract, prefix, events)

    sync_until_idle(settings, contract, store, prefix, batch=10)

    model = ReferenceModel(contract.catalog)
    for event in events:
        model.apply(event)
    assert store_state(real, EntityKind.PERSON) == model.expected(EntityKind.PERSON)
    expected = "OperationalError" if backend == "sqlite" else "AdminShutdown"  # 57P01
    assert store.failures and set(store.failures) == {expected}  # the real errors, retried
    assert real.quarantined() == []
    assert real.stored_offsets("base-store")[(prefix + PERSON_TOPIC, 0)] == 30
    assert topic_messages(settings, settings.dlq_topic) == []
    if backend == "postgresql":  # the store opened a new connection each time
        assert len(set(pids)) == 2
        assert real._conn.info.backend_pid not in pids  # type: ignore[attr-defined]
    real.close()


# --- the CLI: one line, no traceback ---------------------------------------------------------


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from govbus.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_sync_stops_with_one_line_when_the_store_fails_for_good(
    settings: Settings, contract: Contract, prefix: str, tmp_path: Path
) -> None:
    create_topics(settings, contract, prefix)
    url = f"sqlite:///{tmp_path / 'base.db'}"
    broken = open_store(url)
    broken._conn.execute("DROP TABLE persons")  # type: ignore[attr-defined]
    broken.close()
    produce_raw(settings, contract, prefix, [person(citizen_id(1), 1, name="甲")])

    done = run_cli(
        "sync",
        "--store",
        url,
        "--topic-prefix",
        prefix,
        "--until-idle",
        "--max-idle-seconds",
        "2",
        env={
            "GOVBUS_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
            "GOVBUS_DLQ_TOPIC": settings.dlq_topic,
            "GOVBUS_LOG_FORMAT": "json",
        },
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr + done.stdout
    assert done.stderr.strip().splitlines()[-1] == (
        "error STORE_FAILED: applying a batch (attempt 1): "
        "OperationalError (SQLITE_ERROR): no such table: persons"
    )
    # Not dead-lettered, not skipped: the record waits for the store to be mended.
    assert topic_messages(settings, settings.dlq_topic) == []
    reopened = open_store(url)
    assert reopened.stored_offsets("base-store") == {}
    reopened.close()
