"""`Publisher.publish_many`: the same checks and records as `publish`, one handle per batch.

Run with the native fast path and with pure Python (the contract decides); the batch's
records must be exactly what `publish` sends, refused events listed and never sent.
"""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest
from confluent_kafka import KafkaError
from prometheus_client import REGISTRY

from govbus import (
    CertificateChanged,
    CertificateData,
    ChangeEvent,
    Contract,
    ErrorCode,
    PersonChanged,
    PersonData,
    Settings,
    load_contract,
)
from govbus.producers import Publisher
from govbus.producers.testing import InMemoryKafkaError, InMemoryProducer

CITIZEN_ID = "11010519491231002X"


@pytest.fixture(params=["native", "python"])
def any_contract(request: pytest.FixtureRequest, contract: Contract) -> Contract:
    if request.param == "native":
        assert contract.native
        return contract
    return load_contract(Settings(native=False))


def person(sequence: int, department: str = "PSB", key: str = CITIZEN_ID, **data: Any) -> Any:
    return PersonChanged.upsert(
        department=department,
        key=key,
        sequence=sequence,
        data=PersonData(**(data or {"name": f"n{sequence}"})),
    )


def mixed_batch() -> list[ChangeEvent[Any]]:
    """Good events around every kind of refusal and an event the fast path leaves to Python."""
    return [
        person(1),
        person(2, key="110105194912310021"),  # bad check digit
        person(3),
        person(4, phone="13800000000"),  # PSB is not the phone's authority
        CertificateChanged.upsert(  # certificates take the Python path
            department="PSB",
            key="11100000000000000A:X1",
            sequence=5,
            data=CertificateData(status="valid"),
        ),
        person(6, key=f" {CITIZEN_ID.lower()} "),  # valid number, but not in normal form
        person(7, name="长" * 2_000_000),  # over the size limit
        person(8),
    ]


def delivered_count(topic: str) -> float:
    value = REGISTRY.get_sample_value(
        "govbus_publish_delivered_total", {"department": "PSB", "topic": topic}
    )
    return value or 0.0


def test_a_batch_sends_what_publish_sends_and_lists_refusals(any_contract: Contract) -> None:
    events = mixed_batch()
    one_by_one = InMemoryProducer()
    single = Publisher("PSB", Settings(), contract=any_contract, producer=one_by_one)
    expected = []
    for event in events:
        try:
            expected.append(single.prepare(event))
        except Exception:
            continue

    producer = InMemoryProducer(capacity=2)  # back-pressure inside the batch too
    publisher = Publisher("PSB", Settings(), contract=any_contract, producer=producer)
    before = delivered_count("govbus.base.person")
    batch = publisher.publish_many(events)
    receipt = batch.result(timeout=1)

    assert [(r.index, r.error.code) for r in receipt.refused] == [
        (1, ErrorCode.INVALID_IDENTIFIER),
        (3, ErrorCode.NOT_AUTHORITATIVE),
        (4, ErrorCode.NOT_AUTHORITATIVE),  # PSB does not issue business licences
        (5, ErrorCode.INVALID_IDENTIFIER),
        (6, ErrorCode.PAYLOAD_TOO_LARGE),
    ]
    assert receipt.delivered == batch.produced == 3 and receipt.failed == ()
    assert producer.buffer_errors > 0
    sent = [(m.topic(), m.key, m.value, m.headers()) for m in producer.log]
    assert sent == [(r.topic, r.key, r.value, r.headers) for r in expected]
    assert publisher.flush(1) == []
    assert delivered_count("govbus.base.person") == before + 3


def test_failed_deliveries_are_in_the_receipt_and_in_flush(any_contract: Contract) -> None:
    producer = InMemoryProducer(
        fail_with=InMemoryKafkaError(KafkaError._MSG_TIMED_OUT, "timed out")
    )
    publisher = Publisher("PSB", Settings(), contract=any_contract, producer=producer)
    events = [person(1), person(2)]
    batch = publisher.publish_many(events)
    receipt = batch.result(timeout=1)
    assert receipt.delivered == 0 and not receipt.ok
    assert [(f.event_id, f.code) for f in receipt.failed] == [
        (str(e.event_id), ErrorCode.BROKER_UNAVAILABLE) for e in events
    ]
    assert [f.event_id for f in publisher.flush(1)] == [str(e.event_id) for e in events]


def test_an_unfinished_batch_times_out_as_broker_unavailable(contract: Contract) -> None:
    class NeverAcknowledges(InMemoryProducer):
        def poll(self, timeout: float = 0.0) -> int:
            return 0

    publisher = Publisher("PSB", Settings(), contract=contract, producer=NeverAcknowledges())
    batch = publisher.publish_many([person(1)])
    assert not batch.done()
    with pytest.raises(Exception) as caught:
        batch.result(timeout=0.1)
    assert getattr(caught.value, "code", None) is ErrorCode.BROKER_UNAVAILABLE


def test_a_dropped_publisher_and_its_batches_are_collected(any_contract: Contract) -> None:
    # publisher -> open batch -> delivery callback -> publisher is a cycle through the
    # native tracker: the collector must see it, or every publisher (and its Kafka
    # producer) would live forever.
    publisher = Publisher(
        "PSB", Settings(), contract=any_contract, producer=InMemoryProducer(capacity=10)
    )
    batch = publisher.publish_many([person(1), person(2)])
    dropped = weakref.ref(publisher)
    dropped_batch = weakref.ref(batch)
    del publisher, batch
    gc.collect()
    assert dropped() is None and dropped_batch() is None
