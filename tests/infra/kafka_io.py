"""Produce and consume helpers shared by the infrastructure tests."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
)


def produce(config: dict[str, str], topic: str, values: list[str], timeout: float = 60.0) -> None:
    """Send with the idempotent producer (acks=all) and fail on any delivery error."""
    producer = Producer(
        {
            **config,
            "acks": "all",
            "enable.idempotence": "true",
            "message.timeout.ms": str(int(timeout * 1000)),
        }
    )
    errors: list[KafkaError] = []

    def on_delivery(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            errors.append(error)

    for index, value in enumerate(values):
        producer.produce(
            topic, key=str(index).encode(), value=value.encode(), on_delivery=on_delivery
        )
        producer.poll(0)
    remaining = producer.flush(timeout + 5)
    assert remaining == 0, f"{remaining} message(s) not delivered"
    assert not errors, f"delivery errors: {errors}"


def consume_all(
    config: dict[str, str], topic: str, partitions: int, expected: int, timeout: float = 60.0
) -> list[str]:
    """Read every partition from the beginning (assigned, no group coordinator involved)."""
    consumer = Consumer(
        {
            "group.id": f"infra-test-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": "false",
            **config,
        }
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    values: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while len(values) < expected and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise AssertionError(f"consume error: {error}")
            value = message.value()
            assert value is not None
            values.append(value.decode())
    finally:
        consumer.close()
    return values


def messages(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{index}" for index in range(count)]
