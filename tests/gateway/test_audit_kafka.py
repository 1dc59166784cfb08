"""The Kafka mirror against a real broker: it follows the database, resumes after a restart
without a gap or a duplicate, and `audit verify --from-kafka` names tampering in a copy."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource

from govbus.gateway._db import open_database
from govbus.gateway._settings import GatewaySettings
from govbus.gateway.audit import (
    AuditRecord,
    ChainEntry,
    Checkpoint,
    KafkaMirror,
    encode_item,
    next_entry,
    read_topic,
)
from govbus.testing import KafkaEndpoint, TopicFactory
from tests.gateway.audit_helpers import access, key_file, make_log, verify

pytestmark = pytest.mark.kafka


@pytest.fixture
def settings(kafka: KafkaEndpoint, tmp_path: Path) -> Iterator[GatewaySettings]:
    topic = f"test-audit-{uuid.uuid4().hex[:12]}"
    yield GatewaySettings(
        bootstrap_servers=kafka.bootstrap_servers,
        gateway_db=f"sqlite:///{tmp_path / 'gateway.db'}",
        audit_topic=topic,
    )
    admin = AdminClient(kafka.client_config())
    for future in admin.delete_topics([topic], operation_timeout=10).values():
        with contextlib.suppress(Exception):
            future.result(15)


def mirrored(settings: GatewaySettings, key: Path, n: int, start: int = 0) -> None:
    """Append `n` entries with a running mirror, wait until they reached the topic, stop."""
    log = make_log(settings.gateway_db, key, every=5)
    mirror = KafkaMirror(log.store, settings, settings.audit_topic, idle_seconds=0.2)
    log.mirror = mirror
    log.start()
    for i in range(start, start + n):
        log.append(access(i))
    assert mirror.wait_until(start + n, timeout=60)
    log.close()


def test_the_mirror_follows_the_database_onto_a_topic_kept_forever(
    settings: GatewaySettings, kafka: KafkaEndpoint, tmp_path: Path
) -> None:
    key = key_file(tmp_path)
    mirrored(settings, key, 12)
    items = read_topic(settings, settings.audit_topic)
    kinds = [(type(i).__name__, i.seq) for i in items]
    entries = [("ChainEntry", s) for s in range(1, 13)]
    assert kinds == [
        *entries[:5],
        ("Checkpoint", 5),
        *entries[5:10],
        ("Checkpoint", 10),
        *entries[10:],
        ("Checkpoint", 12),  # signed on close
    ]
    resource = ConfigResource("topic", settings.audit_topic)
    admin = AdminClient(kafka.client_config())
    config = admin.describe_configs([resource])[resource].result(15)
    assert config["retention.ms"].value == "-1"
    assert config["cleanup.policy"].value == "delete"
    result = verify(
        "--from-kafka",
        "--topic",
        settings.audit_topic,
        "--public-key",
        str(key),
        env={"GOVBUS_BOOTSTRAP_SERVERS": kafka.bootstrap_servers},
    )
    assert result.exit_code == 0, result.output
    assert "12 entries, 3 checkpoints, last checkpoint seq 12" in result.output


def test_a_restart_resends_exactly_what_the_topic_lacks(
    settings: GatewaySettings, tmp_path: Path
) -> None:
    key = key_file(tmp_path)
    mirrored(settings, key, 6)
    offline = make_log(settings.gateway_db, key, every=5)  # the broker "away": no mirror
    for i in range(6, 9):
        offline.append(access(i))
    mirrored(settings, key, 2, start=9)
    items = read_topic(settings, settings.audit_topic)
    seqs = [i.seq for i in items if isinstance(i, ChainEntry)]
    assert seqs == list(range(1, 12))
    assert [i.seq for i in items if isinstance(i, Checkpoint)] == [5, 6, 11]


def copy_with(
    kafka: KafkaEndpoint, topic_factory: TopicFactory, items: list[ChainEntry | Checkpoint | bytes]
) -> str:
    """A copy of the mirror as an attacker with write access to the broker could make it."""
    topic = topic_factory("test-audit-copy")
    producer = Producer(kafka.client_config({"enable.idempotence": True}))
    for item in items:
        value = item if isinstance(item, bytes) else encode_item(item)
        producer.produce(topic, value)
    assert producer.flush(30) == 0
    return topic


@pytest.fixture
def original(settings: GatewaySettings, tmp_path: Path) -> list[ChainEntry | Checkpoint]:
    mirrored(settings, key_file(tmp_path), 12)
    return list(read_topic(settings, settings.audit_topic))


def refused_from(kafka: KafkaEndpoint, topic: str, key: Path) -> str:
    env = {"GOVBUS_BOOTSTRAP_SERVERS": kafka.bootstrap_servers}
    result = verify("--from-kafka", "--topic", topic, "--public-key", str(key), env=env)
    assert result.exit_code == 1, result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("error AUDIT_TAMPERED: ") and line.endswith(f" (topic {topic})")
    return line.removeprefix("error AUDIT_TAMPERED: ").removesuffix(f" (topic {topic})")


def entry_at(items: list[ChainEntry | Checkpoint], seq: int) -> int:
    return next(
        i for i, item in enumerate(items) if isinstance(item, ChainEntry) and item.seq == seq
    )


def test_from_kafka_an_edited_entry(
    original: list[ChainEntry | Checkpoint],
    kafka: KafkaEndpoint,
    topic_factory: TopicFactory,
    tmp_path: Path,
) -> None:
    items: list[ChainEntry | Checkpoint | bytes] = list(original)
    at = entry_at(original, 3)
    items[at] = original[at].model_copy(update={"records": 999})
    topic = copy_with(kafka, topic_factory, items)
    assert refused_from(kafka, topic, key_file(tmp_path)) == (
        "entry 3 altered (its content does not match its hash)"
    )


def test_from_kafka_a_deleted_entry(
    original: list[ChainEntry | Checkpoint],
    kafka: KafkaEndpoint,
    topic_factory: TopicFactory,
    tmp_path: Path,
) -> None:
    at = entry_at(original, 4)
    topic = copy_with(kafka, topic_factory, [*original[:at], *original[at + 1 :]])
    assert refused_from(kafka, topic, key_file(tmp_path)) == "entry 4 removed"


def test_from_kafka_an_inserted_entry(
    original: list[ChainEntry | Checkpoint],
    kafka: KafkaEndpoint,
    topic_factory: TopicFactory,
    tmp_path: Path,
) -> None:
    at = entry_at(original, 7)
    sixth = original[entry_at(original, 6)]
    forged = next_entry((6, sixth.hash), sixth.at, AuditRecord(actor="forger", action="x.y"))
    topic = copy_with(kafka, topic_factory, [*original[:at], forged, *original[at:]])
    assert refused_from(kafka, topic, key_file(tmp_path)) == (
        "entry 7 inserted (sequence number 7 appears twice)"
    )


def test_from_kafka_a_tail_cut_before_the_last_checkpoint(
    original: list[ChainEntry | Checkpoint],
    kafka: KafkaEndpoint,
    topic_factory: TopicFactory,
    tmp_path: Path,
) -> None:
    at = entry_at(original, 8)
    kept = [*original[:at], *(c for c in original[at:] if isinstance(c, Checkpoint))]
    topic = copy_with(kafka, topic_factory, kept)
    assert refused_from(kafka, topic, key_file(tmp_path)) == (
        "entries 8-12 missing: the tail was cut before checkpoint 12"
    )


def test_from_kafka_a_message_that_is_no_entry(
    original: list[ChainEntry | Checkpoint],
    kafka: KafkaEndpoint,
    topic_factory: TopicFactory,
    tmp_path: Path,
) -> None:
    topic = copy_with(kafka, topic_factory, [*original[:3], b"{not json", *original[3:]])
    assert refused_from(kafka, topic, key_file(tmp_path)) == (
        "the message at offset 3 is not an audit entry or checkpoint"
    )


def both(settings: GatewaySettings, key: Path) -> Result:
    env = {"GOVBUS_BOOTSTRAP_SERVERS": settings.bootstrap_servers}
    return verify(
        "--both", "--db", settings.gateway_db, "--topic", settings.audit_topic,
        "--public-key", str(key), env=env,
    )  # fmt: skip


def test_both_copies_catch_a_database_cut_together_with_its_checkpoints(
    settings: GatewaySettings, tmp_path: Path
) -> None:
    key = key_file(tmp_path)
    mirrored(settings, key, 12)
    assert both(settings, key).exit_code == 0
    with open_database(settings.gateway_db).transaction(write=True) as tx:
        tx.execute("DELETE FROM audit_entries WHERE seq > 7")
        tx.execute("DELETE FROM audit_checkpoints WHERE seq > 7")
    alone = verify("--db", settings.gateway_db, "--public-key", str(key))
    assert alone.exit_code == 0  # the database alone cannot tell
    result = both(settings, key)
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error AUDIT_TAMPERED: entries 8-12 missing: the tail was cut before checkpoint 12 "
        "(database, against the checkpoints of both copies)"
    )


def test_both_copies_catch_an_unsigned_entry_rewritten_in_the_database(
    settings: GatewaySettings, tmp_path: Path
) -> None:
    key = key_file(tmp_path)
    mirrored(settings, key, 12)
    log = make_log(settings.gateway_db, key, every=5)
    log.mirror = KafkaMirror(log.store, settings, settings.audit_topic, idle_seconds=0.2)
    log.mirror.start()
    log.append(access(12))
    log.append(access(13))
    assert log.mirror.wait_until(14, timeout=60)
    log.mirror.close()  # no checkpoint: 13 and 14 stay unsigned
    last = next(e for e in log.store.all_entries() if e.seq == 14)
    forged = last.model_copy(update={"actor": "nobody"})
    forged = forged.model_copy(update={"hash": forged.computed_hash()})
    with log.store.db.transaction(write=True) as tx:
        tx.execute(
            "UPDATE audit_entries SET actor = ?, hash = ? WHERE seq = 14", ("nobody", forged.hash)
        )
    assert verify("--db", settings.gateway_db, "--public-key", str(key)).exit_code == 0
    result = both(settings, key)
    assert result.exit_code == 1
    assert "entry 14 differs between the database and the mirror" in result.output


def test_the_gateway_mirrors_from_its_lifespan_and_flushes_when_it_stops(
    settings: GatewaySettings, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from govbus.gateway._app import create_app

    configured = settings.model_copy(
        update={"audit_signing_key": key_file(tmp_path), "audit_checkpoint_every": 100}
    )
    assert configured.audit_mirror_enabled()  # bootstrap_servers is configured
    app = create_app(configured)
    base = app.state.audit.store.head_seq()  # the seeding of the dev principals is audited
    with TestClient(app):
        for i in range(3):
            app.state.audit.append(access(i))
    items = read_topic(configured, configured.audit_topic)
    assert [(type(i).__name__, i.seq) for i in items] == [
        *(("ChainEntry", seq) for seq in range(1, base + 4)),
        ("Checkpoint", base + 3),  # signed and mirrored on the way down
    ]
