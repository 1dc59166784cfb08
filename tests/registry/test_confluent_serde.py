"""confluent-kafka's own serializers against the govbus registry, and govbus's encoder."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from govbus import (
    ChangeEvent,
    LegalEntityChanged,
    LegalEntityData,
    PersonChanged,
    PersonData,
    Settings,
    load_contract,
)
from govbus._schema_push import push_schemas
from govbus._settings import REPO_ROOT
from tests.registry.conftest import ADMIN, DEPARTMENT, registry_client

SCHEMAS_DIR = REPO_ROOT / "schemas"
OCCURRED = datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)


def legal_entity_event() -> LegalEntityChanged:
    return LegalEntityChanged.upsert(
        department="AMR",
        key="91350100M000100Y43",
        sequence=7,
        occurred_at=OCCURRED,
        event_id=uuid.UUID("0b0e7c6e-4a55-4c1c-9d43-5c2e5c1b9a01"),
        data=LegalEntityData(
            name="福州某某科技有限公司",
            registered_capital=Decimal("1000000.50"),
            establishment_date=date(2015, 6, 1),
            status="active",
            business_scope=None,
        ),
    )


def person_event() -> PersonChanged:
    return PersonChanged.upsert(
        department="PSB",
        key="11010519491231002X",
        sequence=3,
        occurred_at=OCCURRED,
        data=PersonData(name="张三", birth_date=date(1949, 12, 31), phone=None),
    )


@pytest.fixture
def pushed_registry(registry_url: str) -> str:
    pushed = push_schemas(SCHEMAS_DIR, registry_url, ADMIN)
    assert pushed and not any(p.already_registered for p in pushed)
    return registry_url


def test_push_is_idempotent_and_sets_levels(pushed_registry: str) -> None:
    again = push_schemas(SCHEMAS_DIR, pushed_registry, ADMIN)
    assert again and all(p.already_registered for p in again)
    client = registry_client(pushed_registry)
    assert client.get_compatibility("govbus.base.legal-entity-value") == "FULL_TRANSITIVE"
    assert client.get_versions("govbus.base.legal-entity-value") == [1, 2]


@pytest.mark.parametrize("make_event", [legal_entity_event, person_event])
def test_govbus_bytes_equal_confluent_bytes_and_round_trip(
    pushed_registry: str, make_event: Any
) -> None:
    event: ChangeEvent[Any] = make_event()
    contract = load_contract(
        Settings(schema_registry_url=pushed_registry, schema_registry_auth=DEPARTMENT)
    )
    resource = contract.catalog.resource_for_entity(event.entity, None)
    latest = contract.latest_schema(resource)
    client = registry_client(pushed_registry, DEPARTMENT)
    ctx = SerializationContext(resource.topic, MessageField.VALUE)
    serializer = AvroSerializer(client, latest.canonical, conf={"auto.register.schemas": False})

    theirs = serializer(event.to_avro(), ctx)
    ours = contract.encode(resource, event)

    assert ours == theirs
    decoded = AvroDeserializer(client)(ours, ctx)
    assert decoded["entity_key"] == event.entity_key
    assert decoded["changed_fields"] == list(event.changed_fields)
    assert contract.decode(resource.topic, theirs) == event
