"""The sync against the real broker (and real PostgreSQL): end to end, bad input, SIGKILL,
scale-out with a member joining and leaving, and rebuild."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer

from govbus import (
    ChangeEvent,
    Contract,
    EntityKind,
    LegalEntityChanged,
    LegalEntityData,
    PersonChanged,
    Settings,
    admin_config,
    cloudevent_headers,
    ensure_topics,
)
from govbus.consumers import Store, open_store
from govbus.consumers._rebuild import rebuild_store
from govbus.consumers._sync import SyncOptions, SyncService
from govbus.consumers.testing import (
    MARRIAGE,
    ReferenceModel,
    certificate,
    citizen_id,
    legal_entity,
    person,
    publish_events,
    store_state,
    uscc,
)
from govbus.testing import KafkaEndpoint

pytestmark = pytest.mark.kafka
KINDS = (EntityKind.PERSON, EntityKind.LEGAL_ENTITY, EntityKind.CERTIFICATE)


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
def settings(kafka: KafkaEndpoint, prefix: str) -> Settings:
    return Settings(bootstrap_servers=kafka.bootstrap_servers, dlq_topic=f"{prefix}dlq")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'base.db'}"


def create_topics(settings: Settings, contract: Contract, prefix: str) -> None:
    topics = [prefix + t for t in contract.catalog.topics()]
    ensure_topics(admin_config(settings), [*topics, settings.dlq_topic], partitions=6)


def sync_until_idle(
    settings: Settings, contract: Contract, store: Store, prefix: str, group: str = "base-store"
) -> None:
    options = SyncOptions(group=group, topic_prefix=prefix, max_idle_seconds=1.5)
    SyncService(settings, contract, store, options).run()


def assert_matches(store: Store, model: ReferenceModel) -> None:
    for kind in KINDS:
        assert store_state(store, kind) == model.expected(kind), kind


def mixed_events(rng: random.Random, count: int, people: int = 40) -> list[ChangeEvent[Any]]:
    """Persons from four departments (with stale, null and duplicate events), companies,
    certificates whose holders may come later, and deletes."""
    persons = [citizen_id(rng.randrange(300_000)) for _ in range(people)]
    companies = [uscc(rng.randrange(10**8)) for _ in range(people // 4)]
    events: list[ChangeEvent[Any]] = []
    sources = [("PSB", "name"), ("CAB", "marital_status"), ("EDU", "education"), ("HRSS", "phone")]
    sequences: dict[tuple[str, str], int] = {}
    for i in range(count):
        roll = rng.random()
        if roll < 0.6:
            key = rng.choice(persons)
            department, fld = rng.choice(sources)
            seq = sequences[(key, department)] = sequences.get((key, department), 0) + 1
            if rng.random() < 0.1:
                seq -= rng.randint(1, 3)  # stale or reordered
            value: Any = f"{fld}{i}" if fld != "phone" else f"139{i:08d}"
            events.append(person(key, max(seq, 0), department, **{fld: value}))
        elif roll < 0.75:
            key = rng.choice(companies)
            seq = sequences[(key, "AMR")] = sequences.get((key, "AMR"), 0) + 1
            events.append(legal_entity(key, seq, name=f"公司{i}", status="active"))
        elif roll < 0.9:
            holder = rng.choice(persons)
            number = f"M{rng.randrange(20)}"
            seq = sequences[(number, "CAB")] = sequences.get((number, "CAB"), 0) + 1
            events.append(
                certificate(
                    MARRIAGE,
                    number,
                    seq,
                    "CAB",
                    holder_id=holder,
                    holder_type="person",
                    valid_to=date(2040, 1, 1),
                    status=rng.choice(["valid", "valid", "revoked"]),
                )
            )
        elif roll < 0.93:
            key = rng.choice(persons)
            seq = sequences[(key, "PSB")] = sequences.get((key, "PSB"), 0) + 1
            events.append(PersonChanged.delete(department="PSB", key=key, sequence=seq))
        elif events:
            events.append(rng.choice(events))  # an outbox retry: same event id
    return events


def test_publish_sync_store_end_to_end_and_rebuild(
    settings: Settings, contract: Contract, prefix: str, tmp_path: Path
) -> None:
    create_topics(settings, contract, prefix)
    events = mixed_events(random.Random(1), 1500)
    publish_events(settings, contract, events, topic_prefix=prefix)
    model = ReferenceModel(contract.catalog)
    for event in events:
        model.apply(event)

    incremental = open_store(f"sqlite:///{tmp_path / 'incremental.db'}")
    sync_until_idle(settings, contract, incremental, prefix)
    assert_matches(incremental, model)
    assert incremental.processed_count() == len(model.seen)

    rebuilt = open_store(f"sqlite:///{tmp_path / 'rebuilt.db'}")
    options = SyncOptions(group="base-store", topic_prefix=prefix)
    progress: list[tuple[int, int]] = []
    rebuild_store(settings, contract, rebuilt, options, lambda d, t: progress.append((d, t)))
    for kind in KINDS:
        assert store_state(rebuilt, kind) == store_state(incremental, kind)
    assert rebuilt.stored_offsets("base-store") == incremental.stored_offsets("base-store")
    assert progress and progress[-1][0] == progress[-1][1] == len(events)
    # A normal sync after the rebuild resumes from the rebuilt offsets: nothing to apply.
    sync_until_idle(settings, contract, rebuilt, prefix)
    assert rebuilt.processed_count() == incremental.processed_count()


def _dlq_messages(settings: Settings, expected: int) -> list[Any]:
    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "group.id": f"dlq-reader-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([settings.dlq_topic])
    found: list[Any] = []
    deadline = time.monotonic() + 30
    while len(found) < expected and time.monotonic() < deadline:
        found.extend(m for m in consumer.consume(100, 1.0) if m.error() is None)
    consumer.close()
    return found


def test_every_bad_input_goes_to_the_dlq_and_the_partition_keeps_flowing(
    settings: Settings, contract: Contract, prefix: str, sqlite_url: str
) -> None:
    create_topics(settings, contract, prefix)
    topic = prefix + "govbus.base.person"
    person_resource = contract.catalog.resource("BR-PERSON")
    company_resource = contract.catalog.resource("BR-LEGAL-ENTITY")

    def headers(event: ChangeEvent[Any]) -> list[tuple[str, bytes]]:
        return cloudevent_headers(
            event_id=str(event.event_id),
            department=event.source_department,
            entity=str(event.entity),
            occurred_at=event.occurred_at,
            subject="BR-PERSON",
        )

    good = person(citizen_id(42), 1, name="好")
    valid_body = contract.encode(person_resource, good)
    company = LegalEntityChanged.upsert(
        department="AMR", key=uscc(3), sequence=1, data=LegalEntityData(name="x")
    )
    not_authoritative = person(citizen_id(43), 1, "PSB", phone="13912345678")
    bad_identifier = person("110105195001010013", 1, name="bad check digit")
    oversized = person(citizen_id(44), 1, name="x" * 30_000)
    bad: list[tuple[str, bytes, list[tuple[str, bytes]]]] = [
        ("MALFORMED_PAYLOAD", valid_body[:5] + b"\xff\xff\xff", headers(good)),
        ("UNKNOWN_SCHEMA", b"\x00\x00\x00\x27\x0f" + valid_body[5:], headers(good)),
        ("WRONG_TOPIC", contract.encode(company_resource, company), headers(company)),
        (
            "NOT_AUTHORITATIVE",
            contract.encode(person_resource, not_authoritative),
            headers(not_authoritative),
        ),
        (
            "INVALID_IDENTIFIER",
            contract.encode(person_resource, bad_identifier),
            headers(bad_identifier),
        ),
        ("PAYLOAD_TOO_LARGE", contract.encode(person_resource, oversized), headers(oversized)),
        ("MISSING_HEADERS", valid_body, []),
    ]
    producer = Producer({"bootstrap.servers": settings.bootstrap_servers})
    for _code, value, hdrs in bad:
        producer.produce(topic, value=value, headers=hdrs, partition=0)
    producer.produce(topic, value=valid_body, headers=headers(good), partition=0)
    producer.flush(30)

    store = open_store(sqlite_url)
    small = settings.model_copy(update={"max_event_bytes": 20_000})
    sync_until_idle(small, contract, store, prefix)

    record = store.record(EntityKind.PERSON, good.entity_key)
    assert record is not None and record.values["name"] == "好"
    quarantined = store.quarantined()
    assert [q.error_code for q in quarantined] == [code for code, _, _ in bad]
    assert [q.offset for q in quarantined] == list(range(len(bad)))
    assert store.stored_offsets("base-store")[(topic, 0)] == len(bad) + 1
    for q in quarantined:  # reasons never carry the personal values
        assert "13912345678" not in q.reason and "110105195001010013" not in q.reason

    dead = _dlq_messages(settings, len(bad))
    assert len(dead) == len(bad)
    by_code = {dict(m.headers())["govbus_error_code"].decode(): m for m in dead}
    assert set(by_code) == {code for code, _, _ in bad}
    for code, message in by_code.items():
        meta = dict(message.headers())
        assert meta["govbus_original_topic"].decode() == topic
        assert meta["govbus_original_partition"] == b"0"
        assert meta["govbus_error_reason"], code


# --- subprocess syncs: SIGKILL, scale-out -------------------------------------------------


def start_sync(
    settings: Settings, store_url: str, prefix: str, log: Path, *extra: str
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GOVBUS_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "GOVBUS_DLQ_TOPIC": settings.dlq_topic,
    }
    command = [
        sys.executable,
        "-c",
        "from govbus.cli import main; main()",
        "sync",
        "--store",
        store_url,
        "--topic-prefix",
        prefix,
        "--batch-size",
        "200",
        *extra,
    ]
    with log.open("ab") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


class Flow:
    """Publishes events in small bursts from a thread, like departments would."""

    def __init__(self, settings: Settings, contract: Contract, prefix: str, events: list[Any]):
        self.events = events
        self._args = (settings, contract)
        self._prefix = prefix
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        settings, contract = self._args
        for start in range(0, len(self.events), 100):
            chunk = self.events[start : start + 100]
            publish_events(settings, contract, chunk, topic_prefix=self._prefix)
            time.sleep(0.05)

    def __enter__(self) -> Flow:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.thread.join(120)


@pytest.fixture
def reaper() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def wait_for_line(log: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in (log.read_text(errors="replace") if log.exists() else ""):
        assert time.monotonic() < deadline, f"no {text!r} in {log} within {timeout} s"
        time.sleep(0.2)


def finish(settings: Settings, store_url: str, prefix: str, log: Path, *extra: str) -> None:
    final = start_sync(
        settings, store_url, prefix, log, "--until-idle", "--max-idle-seconds", "3", *extra
    )
    assert final.wait(120) == 0, log.read_text()[-3000:]


def test_sigkill_at_random_points_loses_and_duplicates_nothing(
    settings: Settings,
    contract: Contract,
    prefix: str,
    sqlite_url: str,
    tmp_path: Path,
    reaper: list[subprocess.Popen[bytes]],
) -> None:
    create_topics(settings, contract, prefix)
    rng = random.Random(5)
    events = mixed_events(rng, 4000, people=300)
    log = tmp_path / "sync.log"
    static = ("--instance-id", "sync-1")
    with Flow(settings, contract, prefix, events):
        for _ in range(4):
            process = start_sync(settings, sqlite_url, prefix, log, *static)
            reaper.append(process)
            time.sleep(rng.uniform(1.5, 4.0))
            process.send_signal(signal.SIGKILL)
            process.wait(10)
    finish(settings, sqlite_url, prefix, log, *static)

    model = ReferenceModel(contract.catalog)
    for event in events:
        model.apply(event)
    store = open_store(sqlite_url)
    assert_matches(store, model)
    assert store.processed_count() == len(model.seen)  # each unique event applied once


@pytest.mark.postgres
def test_two_instances_and_a_third_joining_and_leaving(
    settings: Settings,
    contract: Contract,
    prefix: str,
    pg_database: str,
    tmp_path: Path,
    reaper: list[subprocess.Popen[bytes]],
) -> None:
    create_topics(settings, contract, prefix)
    open_store(pg_database).close()  # migrate once, before the instances race
    events = mixed_events(random.Random(9), 4000, people=300)
    logs = [tmp_path / f"sync-{i}.log" for i in range(3)]
    with Flow(settings, contract, prefix, events):
        first = start_sync(settings, pg_database, prefix, logs[0])
        second = start_sync(settings, pg_database, prefix, logs[1])
        reaper.extend([first, second])
        time.sleep(4)
        third = start_sync(settings, pg_database, prefix, logs[2])
        reaper.append(third)
        # Leave once it has joined (process start-up alone can take seconds on a busy CI).
        wait_for_line(logs[2], "partitions assigned", 90)
        third.send_signal(signal.SIGTERM)  # leaves mid-stream: revoke applies its batch
        assert third.wait(60) == 0, logs[2].read_text()[-3000:]
    time.sleep(2)
    for process, log in ((first, logs[0]), (second, logs[1])):
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0, log.read_text()[-3000:]
    finish(settings, pg_database, prefix, logs[0])

    model = ReferenceModel(contract.catalog)
    for event in events:
        model.apply(event)
    store = open_store(pg_database)
    assert_matches(store, model)
    assert store.processed_count() == len(model.seen)
    store.close()
