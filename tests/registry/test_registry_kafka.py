"""Through real Kafka: Confluent's AvroSerializer via the govbus registry, govbus decodes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from govbus import Settings, load_contract
from govbus._schema_push import push_schemas
from govbus._settings import REPO_ROOT
from tests.registry.conftest import ADMIN, DEPARTMENT, registry_client
from tests.registry.test_confluent_serde import person_event

pytestmark = pytest.mark.kafka


def test_confluent_producer_to_govbus_contract(
    registry_url: str, kafka: Any, unique_topic: str
) -> None:
    push_schemas(REPO_ROOT / "schemas", registry_url, ADMIN)
    contract = load_contract(
        Settings(schema_registry_url=registry_url, schema_registry_auth=DEPARTMENT)
    )
    resource = contract.catalog.resource("BR-PERSON")
    # An isolated topic, but the catalog's subject, as the catalog topic would use.
    serializer = AvroSerializer(
        registry_client(registry_url, DEPARTMENT),
        contract.latest_schema(resource).canonical,
        conf={
            "auto.register.schemas": False,
            "subject.name.strategy": lambda _ctx, _name: resource.subject,
        },
    )
    event = person_event()
    payload = serializer(event.to_avro(), SerializationContext(unique_topic, MessageField.VALUE))
    producer = Producer(kafka.client_config())
    producer.produce(unique_topic, key=contract.record_key(event), value=payload)
    assert producer.flush(30) == 0

    consumer = Consumer(
        {
            **kafka.client_config(),
            "group.id": f"registry-test-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
        }
    )
    try:
        consumer.subscribe([unique_topic])
        message = None
        for _ in range(60):
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                break
        assert message is not None and message.error() is None
        assert message.key() == contract.record_key(event)
        assert event.entity_key.encode() not in message.key()
        assert contract.decode(resource.topic, message.value()) == event
    finally:
        consumer.close()
