"""The session's single broker: idempotent produce, then consume back through a group."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer

from govbus.testing import KafkaEndpoint

from .kafka_io import messages, produce

pytestmark = pytest.mark.kafka


def test_idempotent_producer_round_trip(kafka: KafkaEndpoint, unique_topic: str) -> None:
    sent = messages("single", 50)
    produce(kafka.client_config(), unique_topic, sent)

    consumer = Consumer(
        kafka.client_config(
            {"group.id": f"single-{uuid.uuid4().hex[:8]}", "auto.offset.reset": "earliest"}
        )
    )
    consumer.subscribe([unique_topic])
    received: list[str] = []
    deadline = time.monotonic() + 60
    try:
        while len(received) < len(sent) and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            assert message.error() is None, message.error()
            value = message.value()
            assert value is not None
            received.append(value.decode())
    finally:
        consumer.close()

    assert received == sent  # one partition: order is kept, and no duplicates
