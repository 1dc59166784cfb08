"""Publisher refusals, headers and back-pressure, against an in-memory producer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from confluent_kafka import KafkaError
from prometheus_client import REGISTRY

from govbus import (
    Contract,
    ErrorCode,
    GovbusError,
    LegalEntityChanged,
    LegalEntityData,
    PersonChanged,
    PersonData,
    Settings,
    parse_cloudevent_headers,
)
from govbus.producers import AsyncPublisher, DeliveryResult, Publisher
from govbus.producers.testing import InMemoryKafkaError, InMemoryProducer

CITIZEN_ID = "11010519491231002X"
USCC = "91350100M000100Y43"


def person(department: str = "PSB", key: str = CITIZEN_ID, **data: Any) -> PersonChanged:
    return PersonChanged.upsert(
        department=department, key=key, sequence=1, data=PersonData(**(data or {"name": "张三"}))
    )


def refused_count(department: str, resource: str, code: str) -> float:
    value = REGISTRY.get_sample_value(
        "govbus_publish_refused_total",
        {"department": department, "resource": resource, "code": code},
    )
    return value or 0.0


def make_publisher(
    contract: Contract, producer: InMemoryProducer, department: str = "PSB"
) -> Publisher:
    return Publisher(department, Settings(), contract=contract, producer=producer)


def test_publish_sends_to_the_resource_topic_with_cloudevent_headers(contract: Contract) -> None:
    producer = InMemoryProducer()
    publisher = make_publisher(contract, producer)
    event = person()
    result = publisher.publish(event, traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01")
    assert not result.done()
    receipt = result.result(timeout=1)
    assert receipt.event_id == str(event.event_id)
    [message] = producer.log
    assert message.topic_name == "govbus.base.person"
    assert CITIZEN_ID.encode() not in message.key  # persons are keyed by pseudonym
    attributes = parse_cloudevent_headers(message.headers())
    assert attributes.id == str(event.event_id)
    assert attributes.department == "PSB"
    assert attributes.traceparent is not None
    assert contract.decode("govbus.base.person", message.value) == event


@pytest.mark.parametrize(
    ("department", "event", "code", "field"),
    [
        ("PSB", person(key="110105194912310021"), ErrorCode.INVALID_IDENTIFIER, "entity_key"),
        ("PSB", person(marital_status="20"), ErrorCode.NOT_AUTHORITATIVE, "marital_status"),
        (
            "PSB",
            person(department="CAB", marital_status="20"),
            ErrorCode.NOT_AUTHORITATIVE,
            "source_department",
        ),
        (
            "EDU",
            PersonChanged.delete(department="EDU", key=CITIZEN_ID, sequence=2),
            ErrorCode.NOT_AUTHORITATIVE,
            "id_number",
        ),
    ],
)
def test_refusals_raise_a_stable_code_are_counted_and_never_sent(
    contract: Contract, department: str, event: PersonChanged, code: ErrorCode, field: str
) -> None:
    producer = InMemoryProducer()
    publisher = make_publisher(contract, producer, department)
    resource = "BR-PERSON"
    before = refused_count(department, resource, code)
    with pytest.raises(GovbusError) as caught:
        publisher.publish(event)
    assert caught.value.code is code
    assert caught.value.field == field
    assert CITIZEN_ID not in str(caught.value)
    assert refused_count(department, resource, code) == before + 1
    assert producer.queue == [] and producer.log == []


def test_not_authoritative_names_the_field_and_its_authority(contract: Contract) -> None:
    with pytest.raises(GovbusError) as caught:
        make_publisher(contract, InMemoryProducer()).publish(person(education="bachelor"))
    assert caught.value.field == "education"
    assert caught.value.details["authority"] == "EDU"


def test_the_publisher_refuses_events_of_another_department(contract: Contract) -> None:
    publisher = make_publisher(contract, InMemoryProducer(), department="AMR")
    event = LegalEntityChanged.upsert(
        department="TAX", key=USCC, sequence=1, data=LegalEntityData(tax_credit_rating="A")
    )
    with pytest.raises(GovbusError) as caught:
        publisher.publish(event)
    assert caught.value.code is ErrorCode.NOT_AUTHORITATIVE
    assert caught.value.field == "source_department"


def test_unknown_department_is_refused_at_construction(contract: Contract) -> None:
    with pytest.raises(GovbusError) as caught:
        make_publisher(contract, InMemoryProducer(), department="NOPE")
    assert caught.value.code is ErrorCode.UNKNOWN_DEPARTMENT


def test_an_event_over_the_size_limit_is_refused(contract: Contract) -> None:
    publisher = Publisher(
        "PSB", Settings(max_event_bytes=300), contract=contract, producer=InMemoryProducer()
    )
    with pytest.raises(GovbusError) as caught:
        publisher.publish(person(household_address="x" * 400))
    assert caught.value.code is ErrorCode.PAYLOAD_TOO_LARGE


def test_a_model_built_without_validation_is_a_schema_mismatch(contract: Contract) -> None:
    bad = PersonChanged.model_construct(
        entity_key=CITIZEN_ID,
        source_department="PSB",
        source_sequence=1,
        operation="UPSERT",
        changed_fields=("sex",),
        data=PersonData.model_construct(sex=7),
    )
    with pytest.raises(GovbusError) as caught:
        make_publisher(contract, InMemoryProducer()).publish(bad)
    assert caught.value.code is ErrorCode.SCHEMA_MISMATCH


def test_a_full_queue_applies_back_pressure_and_drops_nothing(contract: Contract) -> None:
    producer = InMemoryProducer(capacity=3)
    publisher = make_publisher(contract, producer)
    events = [person() for _ in range(20)]
    results = [publisher.publish(e) for e in events]
    assert publisher.flush(1) == []
    assert producer.buffer_errors > 0
    assert [m.value for m in producer.log] == [
        contract.encode(contract.catalog.resource("BR-PERSON"), e) for e in events
    ]
    assert all(r.succeeded() for r in results)


def test_failed_deliveries_reach_flush_callbacks_and_results(contract: Contract) -> None:
    producer = InMemoryProducer(
        fail_with=InMemoryKafkaError(KafkaError._MSG_TIMED_OUT, "timed out")
    )
    publisher = make_publisher(contract, producer)
    seen: list[DeliveryResult] = []
    result = publisher.publish(person(), on_delivery=seen.append)
    failures = publisher.flush(1)
    assert [f.code for f in failures] == [ErrorCode.BROKER_UNAVAILABLE]
    assert seen == [result]
    with pytest.raises(GovbusError) as caught:
        result.result(0)
    assert caught.value.code is ErrorCode.BROKER_UNAVAILABLE
    assert publisher.flush(1) == []  # reported once


def test_close_flushes_and_context_manager_closes(contract: Contract) -> None:
    producer = InMemoryProducer()
    with make_publisher(contract, producer) as publisher:
        result = publisher.publish(person())
    assert result.done() and producer.queue == []


def test_async_publisher_resolves_awaitables_from_the_poll_thread(contract: Contract) -> None:
    async def main() -> list[str]:
        async with AsyncPublisher(
            "PSB", Settings(), contract=contract, producer=InMemoryProducer(capacity=2)
        ) as publisher:
            futures = [await publisher.enqueue(person()) for _ in range(10)]
            receipts = await asyncio.gather(*futures)
            single = await publisher.publish(person())
            return [r.event_id for r in [*receipts, single]]

    assert len(set(asyncio.run(main()))) == 11
