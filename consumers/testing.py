"""Test support for the store sync: identifiers, event builders and a reference model.

The reference model applies the documented rules of `apply_batch` with plain dicts, written
independently of the store code, so tests can compare a store against it.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from stdnum.cn import ric

from govbus import (
    Catalog,
    CertificateChanged,
    CertificateData,
    ChangeEvent,
    Contract,
    EntityKind,
    LegalEntityChanged,
    LegalEntityData,
    PersonChanged,
    PersonData,
    Settings,
    certificate_key,
    uscc_check_character,
)


def citizen_id(n: int) -> str:
    """A valid identity number, distinct for each n < 1000 * 28 * 12."""
    serial, rest = n % 1000, n // 1000
    day, month = rest % 28 + 1, (rest // 28) % 12 + 1
    body = f"110105{1950 + rest // 336:04d}{month:02d}{day:02d}{serial:03d}"
    return body + ric.calc_check_digit(body + "0")


def uscc(n: int) -> str:
    """A valid unified social credit code, distinct per n."""
    body = f"91110000{n:09d}"
    return body + uscc_check_character(body)


MARRIAGE = "11100000000000000B"
BUSINESS_LICENCE = "11100000000000000A"


def person(key: str, sequence: int, department: str = "PSB", **fields: Any) -> PersonChanged:
    return PersonChanged.upsert(
        department=department, key=key, sequence=sequence, data=PersonData(**fields)
    )


def legal_entity(
    key: str, sequence: int, department: str = "AMR", **fields: Any
) -> LegalEntityChanged:
    return LegalEntityChanged.upsert(
        department=department, key=key, sequence=sequence, data=LegalEntityData(**fields)
    )


def certificate(
    licence_type: str, number: str, sequence: int, department: str, **fields: Any
) -> CertificateChanged:
    return CertificateChanged.upsert(
        department=department,
        key=certificate_key(licence_type, number),
        sequence=sequence,
        data=CertificateData(**fields),
    )


def plain(value: Any) -> Any:
    """One comparable form for values read from either backend."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal("0.01")))
    return value


def test_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)


test_settings.__test__ = False  # type: ignore[attr-defined]


@dataclass
class ReferenceRecord:
    values: dict[str, Any] = field(default_factory=dict)
    sequences: dict[str, int] = field(default_factory=dict)
    deleted: bool = False


@dataclass
class ReferenceModel:
    """Expected final state: (kind, key) → values and deleted flag."""

    catalog: Catalog
    records: dict[tuple[EntityKind, str], ReferenceRecord] = field(default_factory=dict)
    seen: set[uuid.UUID] = field(default_factory=set)
    stale_fields: int = 0
    """Fields (and tombstones) an event carried but could not apply: not newer."""

    def apply(self, event: ChangeEvent[Any]) -> None:
        if event.event_id in self.seen:
            return
        self.seen.add(event.event_id)
        licence = event.licence_type_code if isinstance(event, CertificateChanged) else None
        resource = self.catalog.resource_for_entity(event.entity, licence)
        key_authority = resource.key.authority
        if event.operation == "DELETE" and event.source_department != key_authority:
            return  # refused whole: it does not even make the record exist
        record = self.records.setdefault((event.entity, event.entity_key), ReferenceRecord())
        s = event.source_sequence
        if event.operation == "DELETE":
            own = [f.name for f in resource.fields if f.authority == key_authority]
            own.append("_record")
            if all(s > record.sequences.get(n, -1) for n in own):
                record.values = {}
                record.deleted = True
                record.sequences.update(dict.fromkeys(own, s))
            else:
                self.stale_fields += 1
            return
        for name, value in event.changed_values().items():
            if resource.field(name).authority != event.source_department:
                continue
            if s > record.sequences.get(name, -1):
                record.values[name] = value
                record.sequences[name] = s
            else:
                self.stale_fields += 1
        if (
            record.deleted
            and event.source_department == key_authority
            and s > record.sequences.get("_record", -1)
        ):
            record.deleted = False
            record.sequences["_record"] = s

    def expected(self, kind: EntityKind) -> dict[str, tuple[dict[str, Any], bool]]:
        return {
            key: (
                {n: plain(v) for n, v in r.values.items() if v is not None},
                r.deleted,
            )
            for (k, key), r in self.records.items()
            if k is kind
        }

    def sequences(self, kind: EntityKind) -> dict[str, dict[str, int]]:
        """Per record, the source sequence of each field (and `_record`) that has one."""
        return {key: dict(r.sequences) for (k, key), r in self.records.items() if k is kind}


def store_sequences(store: Any, kind: EntityKind) -> dict[str, dict[str, int]]:
    """Per record, the source sequence in each field's stored provenance."""
    found: dict[str, dict[str, int]] = {}
    for key, _, _ in store.iter_records(kind):
        record = store.record(kind, key)
        found[key] = {p.field: p.source_sequence for p in record.provenance}
    return found


def store_state(store: Any, kind: EntityKind) -> dict[str, tuple[dict[str, Any], bool]]:
    return {
        key: ({n: plain(v) for n, v in values.items() if v is not None}, deleted)
        for key, values, deleted in store.iter_records(kind)
    }


_producers: dict[str, Any] = {}


def publish_events(
    settings: Settings,
    contract: Contract,
    events: Sequence[ChangeEvent[Any]],
    *,
    topic_prefix: str = "",
    wait: bool = True,
) -> None:
    """Publish events as a department would (wire format + CloudEvents headers).

    With `wait` (the default) return once every event is acknowledged, from a producer used
    for this call only: a producer that outlives the test's broker keeps logging failed
    reconnects. Without `wait` (a rate-paced stream) one producer per cluster is reused.
    """
    from confluent_kafka import Producer

    from govbus import cloudevent_headers, producer_config

    producer: Any = None if wait else _producers.get(settings.bootstrap_servers)
    if producer is None:
        producer = Producer(producer_config(settings))
        if not wait:
            _producers[settings.bootstrap_servers] = producer
    for event in events:
        licence = event.licence_type_code if isinstance(event, CertificateChanged) else None
        resource = contract.catalog.resource_for_entity(event.entity, licence)
        headers: list[tuple[str, str | bytes | None]] = list(
            cloudevent_headers(
                event_id=str(event.event_id),
                department=event.source_department,
                entity=str(event.entity),
                occurred_at=event.occurred_at,
                subject=resource.code,
            )
        )
        producer.produce(
            topic_prefix + resource.topic,
            key=contract.record_key(event),
            value=contract.encode(resource, event),
            headers=headers,
        )
        producer.poll(0)
    if wait and producer.flush(30.0):
        raise RuntimeError("events not delivered within 30 s")


def topic_messages(settings: Settings, topic: str, seconds: float = 30.0) -> list[Any]:
    """Every message the topic holds now (up to each partition's high watermark)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "group.id": f"reader-{uuid.uuid4()}",
            "enable.auto.commit": False,
        }
    )
    try:
        described = consumer.list_topics(topic, timeout=10.0).topics[topic]
        held = 0
        for p in described.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10.0)
            held += high - low
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in described.partitions])
        found: list[Any] = []
        deadline = time.monotonic() + seconds
        while len(found) < held and time.monotonic() < deadline:
            found.extend(m for m in consumer.consume(100, 0.5) if m.error() is None)
        return found
    finally:
        consumer.close()


SQLITE_LENGTH_LIMIT = 20_000


def refuse_in_store(store: Any, rule: str) -> str:
    """Make the store refuse some records the way databases do; return a person name that
    it refuses. PostgreSQL refuses NUL in text by itself; the others are site rules (a
    CHECK constraint, a trigger) or a length limit, as an operator could set them."""
    conn: Any = store._conn  # a test reaches into the store's connection
    if rule == "nul":
        return "bad\x00name"
    if rule == "check":
        conn.execute(
            "ALTER TABLE persons ADD CONSTRAINT site_rule CHECK (name NOT LIKE '%refused-%')"
        )
        return "refused-by-rule"
    if rule == "trigger":
        for event in ("INSERT", "UPDATE"):
            conn.execute(
                f"CREATE TRIGGER site_rule_{event.lower()} BEFORE {event} ON persons "
                "WHEN NEW.name LIKE '%refused-%' "
                "BEGIN SELECT RAISE(ABORT, 'names like this are refused here'); END"
            )
        return "refused-by-trigger"
    if rule == "too-big":
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, SQLITE_LENGTH_LIMIT)
        return "x" * (SQLITE_LENGTH_LIMIT + 5000)
    raise ValueError(rule)


@dataclass
class Refusing:
    store: Any
    poison: str
    """A person name the store refuses."""
    rule: str
