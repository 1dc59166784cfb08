"""Shared by the projector tests: events, an independent expectation, a read_committed reader."""

from __future__ import annotations

import random
import time
import uuid
from datetime import date
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from govbus import ChangeEvent, GrantPolicy, PersonChanged, Settings
from govbus.consumers.testing import citizen_id, legal_entity, person, uscc

PERSON_FIELDS = ("name", "marital_status")
LEGAL_FIELDS = ("name",)


def projector_events(rng: random.Random, count: int, people: int = 60) -> list[ChangeEvent[Any]]:
    """Persons changed by several departments (some in none of the view's fields), companies,
    and a few deletes."""
    persons = [citizen_id(rng.randrange(300_000)) for _ in range(people)]
    companies = [uscc(n) for n in range(8)]
    sources = [("PSB", "name"), ("CAB", "marital_status"), ("EDU", "education"), ("PSB", "sex")]
    sequences: dict[tuple[str, str], int] = {}
    events: list[ChangeEvent[Any]] = []
    for i in range(count):
        roll = rng.random()
        if roll < 0.75:
            key = rng.choice(persons)
            department, name = rng.choice(sources)
            seq = sequences[(key, department)] = sequences.get((key, department), 0) + 1
            value: Any = rng.choice("129") if name == "sex" else f"{name}{i}"
            fields = {name: value}
            if name == "name" and rng.random() < 0.3:
                fields["birth_date"] = date(1980, 1, 1 + i % 28)
            events.append(person(key, seq, department, **fields))
        elif roll < 0.95:
            key = rng.choice(companies)
            seq = sequences[(key, "AMR")] = sequences.get((key, "AMR"), 0) + 1
            events.append(legal_entity(key, seq, name=f"公司{i}", status="active"))
        else:
            key = rng.choice(persons)
            seq = sequences[(key, "PSB")] = sequences.get((key, "PSB"), 0) + 1
            events.append(PersonChanged.delete(department="PSB", key=key, sequence=seq))
    return events


def expected_view(policy: GrantPolicy, events: list[ChangeEvent[Any]]) -> dict[str, dict[str, Any]]:
    """event id -> the view record, from the events and the policy alone (not the projector)."""
    resource = policy.resource
    key_name = resource.key.name
    data_fields = sorted(n for n in policy.delivered if n != key_name)
    out: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.entity is not resource.entity:
            continue
        changed = [f for f in event.changed_fields if f in data_fields]
        if event.operation != "DELETE" and not changed:
            continue
        data = None
        if event.data is not None:
            data = {}
            for name in data_fields:
                value = getattr(event.data, name)
                text = value.isoformat() if isinstance(value, date) else value
                disclosure = policy.disclosure(name)
                data[name] = (
                    None
                    if value is None
                    else (disclosure.apply(text) if disclosure.kind == "masked" else value)
                )
        out[str(event.event_id)] = {
            "entity_key": policy.disclosure(key_name).apply(event.entity_key),
            "changed_fields": changed,
            "operation": event.operation,
            "data": data,
        }
    return out


def read_view(
    settings: Settings, registry: Any, topic: str, seconds: float = 60.0
) -> list[tuple[Any, dict[str, Any]]]:
    """Every committed record of a view topic, decoded by Confluent's AvroDeserializer."""
    deserialize = AvroDeserializer(registry)
    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "group.id": f"view-reader-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        at_end: set[int] = set()
        found: list[tuple[Any, dict[str, Any]]] = []
        deadline = time.monotonic() + seconds
        while len(at_end) < len(partitions):
            assert time.monotonic() < deadline, f"{topic} not read to its end in {seconds} s"
            for message in consumer.consume(500, 0.5):
                error = message.error()
                if error is not None and error.code() == KafkaError._PARTITION_EOF:
                    at_end.add(message.partition())
                elif error is None:
                    at_end.discard(message.partition())
                    value = deserialize(
                        message.value(), SerializationContext(topic, MessageField.VALUE)
                    )
                    found.append((message, value))
        return found
    finally:
        consumer.close()


def view_by_event_id(found: list[tuple[Any, dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    by_id: dict[str, list[dict[str, Any]]] = {}
    for _message, value in found:
        by_id.setdefault(value["event_id"], []).append(value)
    return by_id


def comparable(value: dict[str, Any]) -> dict[str, Any]:
    return {k: value[k] for k in ("entity_key", "changed_fields", "operation", "data")}
