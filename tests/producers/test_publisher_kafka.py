"""The Publisher against the real broker: acks, order, headers, async, broker down."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition

from govbus import (
    Contract,
    ErrorCode,
    GovbusError,
    PersonChanged,
    PersonData,
    Settings,
    ensure_topics,
    parse_cloudevent_headers,
)
from govbus.producers import AsyncPublisher, Publisher
from govbus.testing import KafkaEndpoint

pytestmark = pytest.mark.kafka
CITIZEN_ID = "11010519491231002X"
TOPIC = "govbus.base.person"


def end_offsets(kafka: KafkaEndpoint, topic: str) -> list[TopicPartition]:
    consumer = Consumer(kafka.client_config() | {"group.id": "offsets"})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    offsets = []
    for p in partitions:
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        offsets.append(TopicPartition(topic, p, high))
    consumer.close()
    return offsets


def read_from(kafka: KafkaEndpoint, start: list[TopicPartition]) -> list[tuple[bytes, list]]:
    consumer = Consumer(kafka.client_config() | {"group.id": f"t-{uuid.uuid4()}"})
    consumer.assign(start)
    seen: list[tuple[bytes, list]] = []
    idle = 0
    while idle < 4:
        batch = consumer.consume(1000, 0.5)
        idle = 0 if batch else idle + 1
        seen += [(m.value(), m.headers()) for m in batch if m.error() is None]
    consumer.close()
    return seen


def test_published_events_are_acknowledged_and_readable(
    kafka: KafkaEndpoint, contract: Contract
) -> None:
    settings = Settings(bootstrap_servers=kafka.bootstrap_servers)
    ensure_topics(kafka.client_config(), [TOPIC], partitions=1)
    start = end_offsets(kafka, TOPIC)
    events = [
        PersonChanged.upsert(
            department="PSB", key=CITIZEN_ID, sequence=n, data=PersonData(name=f"n{n}")
        )
        for n in range(50)
    ]
    with Publisher("PSB", settings, contract=contract) as publisher:
        results = [publisher.publish(e) for e in events]
        assert publisher.flush(30) == []
    receipts = [r.result(0) for r in results]
    offsets = [r.offset for r in receipts]
    assert offsets == sorted(offsets) and len(set(offsets)) == 50
    wanted = {str(e.event_id) for e in events}
    found = []
    for value, headers in read_from(kafka, start):
        attributes = parse_cloudevent_headers(headers)
        if attributes.id in wanted:
            found.append(contract.decode(TOPIC, value))
    assert found == events


def test_async_publisher_awaits_broker_acknowledgement(
    kafka: KafkaEndpoint, contract: Contract
) -> None:
    settings = Settings(bootstrap_servers=kafka.bootstrap_servers)
    ensure_topics(kafka.client_config(), [TOPIC], partitions=1)

    async def main() -> list[int]:
        async with AsyncPublisher("PSB", settings, contract=contract) as publisher:
            futures = [
                await publisher.enqueue(
                    PersonChanged.upsert(
                        department="PSB", key=CITIZEN_ID, sequence=n, data=PersonData(sex="1")
                    )
                )
                for n in range(20)
            ]
            return [r.offset for r in await asyncio.gather(*futures)]

    offsets = asyncio.run(main())
    assert offsets == sorted(offsets) and min(offsets) >= 0


def test_async_publish_many_resolves_with_the_batch_receipt(
    kafka: KafkaEndpoint, contract: Contract
) -> None:
    settings = Settings(bootstrap_servers=kafka.bootstrap_servers)
    ensure_topics(kafka.client_config(), [TOPIC], partitions=1)
    events = [
        PersonChanged.upsert(
            department="PSB",
            key=CITIZEN_ID,
            sequence=n,
            data=PersonData(phone="1") if n == 3 else PersonData(sex="1"),  # 3: not PSB's
        )
        for n in range(500)
    ]

    async def main() -> tuple[int, list[tuple[int, ErrorCode]]]:
        async with AsyncPublisher("PSB", settings, contract=contract) as publisher:
            ticks = 0

            async def tick() -> None:  # the event loop keeps running meanwhile
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0)

            ticker = asyncio.create_task(tick())
            receipt = await publisher.publish_many(events, timeout=30)
            ticker.cancel()
            assert ticks > 0
            return receipt.delivered, [(r.index, r.error.code) for r in receipt.refused]

    delivered, refused = asyncio.run(main())
    assert delivered == 499 and refused == [(3, ErrorCode.NOT_AUTHORITATIVE)]


def test_an_unreachable_broker_is_broker_unavailable(contract: Contract) -> None:
    settings = Settings(bootstrap_servers="127.0.0.1:1")
    publisher = Publisher(
        "PSB",
        settings,
        contract=contract,
        producer_overrides={"message.timeout.ms": 1500, "log_level": 0},
    )
    result = publisher.publish(
        PersonChanged.upsert(department="PSB", key=CITIZEN_ID, sequence=1, data=PersonData(sex="2"))
    )
    failures = publisher.flush(10)
    assert [f.code for f in failures] == [ErrorCode.BROKER_UNAVAILABLE]
    with pytest.raises(GovbusError) as caught:
        result.result(0)
    assert caught.value.code is ErrorCode.BROKER_UNAVAILABLE


def test_a_batch_reaches_the_broker_in_order_with_refusals_left_out(
    kafka: KafkaEndpoint, contract: Contract
) -> None:
    settings = Settings(bootstrap_servers=kafka.bootstrap_servers)
    ensure_topics(kafka.client_config(), [TOPIC], partitions=1)
    start = end_offsets(kafka, TOPIC)
    events = [
        PersonChanged.upsert(
            department="PSB",
            key=CITIZEN_ID if n % 7 else "110105194912310021",  # every 7th: bad check digit
            sequence=n,
            data=PersonData(name=f"n{n}"),
        )
        for n in range(3000)
    ]
    with Publisher("PSB", settings, contract=contract) as publisher:
        batch = publisher.publish_many(events)
        receipt = batch.result(timeout=60)
    refused = {r.index for r in receipt.refused}
    assert refused == {n for n in range(3000) if n % 7 == 0}
    assert {r.error.code for r in receipt.refused} == {ErrorCode.INVALID_IDENTIFIER}
    accepted = [e for n, e in enumerate(events) if n not in refused]
    assert receipt.delivered == len(accepted) and receipt.failed == ()
    wanted = {str(e.event_id) for e in events}
    found = [
        contract.decode(TOPIC, value)
        for value, headers in read_from(kafka, start)
        if parse_cloudevent_headers(headers).id in wanted
    ]
    assert found == accepted  # all of them, once, in order
