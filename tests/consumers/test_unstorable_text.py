"""An event with text the store cannot hold, from a producer that skipped govbus's checks,
is dead-lettered by the sync's own re-validation (UNSTORABLE_TEXT) before it reaches the
database: the good events around it are applied and the partition flows on."""

from __future__ import annotations

import uuid
from typing import Any

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
from govbus.consumers import open_store
from govbus.consumers._batch_items import KafkaPosition, RejectedRecord, SourcedEvent
from govbus.consumers._decode import RawRecord, decode_record, validate_record
from govbus.consumers._sync import SyncOptions, SyncService
from govbus.consumers.testing import MARRIAGE, certificate, citizen_id, person, topic_messages
from govbus.testing import KafkaEndpoint


def headers(event: ChangeEvent[Any]) -> list[tuple[str, bytes]]:
    return cloudevent_headers(
        event_id=str(event.event_id),
        department=event.source_department,
        entity=str(event.entity),
        occurred_at=event.occurred_at,
        subject="s",
    )


def raw(contract: Contract, event: ChangeEvent[Any], offset: int = 0) -> RawRecord:
    resource = contract.catalog.resource_for_entity(
        event.entity, event.entity_key.split(":")[0] if ":" in event.entity_key else None
    )
    # Contract.encode does not check: it is how a producer without govbus's checks writes.
    value = contract.encode(resource, event)
    return RawRecord(KafkaPosition(resource.topic, 0, offset), b"k", value, headers(event))


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (person(citizen_id(1), 1, name="张\x00三"), "name"),
        (
            certificate(MARRIAGE, "M1", 1, "CAB", attributes={"spouse": "李\x00四"}),
            "attributes",
        ),
        (certificate(MARRIAGE, "M\x002", 1, "CAB", status="valid"), "entity_key"),
    ],
)
def test_validate_record_rejects_unstorable_text(
    contract: Contract, event: ChangeEvent[Any], field: str
) -> None:
    record = raw(contract, event)
    decoded = decode_record(contract, record, topic_prefix="", max_event_bytes=1_000_000)
    assert isinstance(decoded, SourcedEvent)  # Avro carries a NUL; the store cannot
    rejected = validate_record(contract.catalog, decoded, record)
    assert isinstance(rejected, RejectedRecord)
    assert rejected.error_code == "UNSTORABLE_TEXT"
    assert field in rejected.reason and "张" not in rejected.reason and "李" not in rejected.reason


@pytest.mark.kafka
def test_a_nul_between_good_events_is_dead_lettered_and_the_partition_flows(
    kafka: KafkaEndpoint, contract: Contract, store_url: str
) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}."
    settings = Settings(bootstrap_servers=kafka.bootstrap_servers, dlq_topic=f"{prefix}dlq")
    topics = [prefix + t for t in contract.catalog.topics()]
    ensure_topics(admin_config(settings), [*topics, settings.dlq_topic], partitions=1)
    events = [
        person(citizen_id(1), 1, name="甲"),
        person(citizen_id(2), 1, name="乙\x00"),
        person(citizen_id(3), 1, name="丙"),
        person(citizen_id(2), 2, name="乙"),  # the same person, fixed, goes through
    ]
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers})
    for event in events:
        record = raw(contract, event)
        producer.produce(prefix + record.position.topic, value=record.value, headers=record.headers)
    assert producer.flush(30) == 0

    store = open_store(store_url)
    try:
        options = SyncOptions(group="base-store", topic_prefix=prefix, max_idle_seconds=1.5)
        SyncService(settings, contract, store, options).run()
        names = {
            n: (r.values["name"] if (r := store.record(EntityKind.PERSON, citizen_id(n))) else None)
            for n in (1, 2, 3)
        }
        assert names == {1: "甲", 2: "乙", 3: "丙"}
        [quarantined] = store.quarantined()
        assert (quarantined.error_code, quarantined.offset) == ("UNSTORABLE_TEXT", 1)
        assert store.stored_offsets("base-store")[(prefix + "govbus.base.person", 0)] == 4
    finally:
        store.close()

    dead = topic_messages(settings, settings.dlq_topic)
    assert len(dead) == 1
    meta = dict(dead[0].headers())
    assert meta["govbus_error_code"] == b"UNSTORABLE_TEXT"
    assert b"name" in meta["govbus_error_reason"]
