"""SASL/SCRAM-SHA-512 with ACLs: bad passwords fail, users get only what is granted."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from govbus.dev.kafka import ClusterHandle
from govbus.dev.kafka_config import Credentials
from govbus.dev.kafka_security import create_scram_user, grant
from govbus.testing import create_topic

from .kafka_io import consume_all

pytestmark = pytest.mark.kafka

AUTHORIZATION_FAILURES = {
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
    KafkaError.GROUP_AUTHORIZATION_FAILED,
}


def _user_config(cluster: ClusterHandle, user: Credentials) -> dict[str, str]:
    return {"bootstrap.servers": cluster.bootstrap_servers, **user.client_config()}


def _new_user(cluster: ClusterHandle) -> Credentials:
    name = f"user-{uuid.uuid4().hex[:8]}"
    return create_scram_user(cluster.client_config(), name, f"{name}-password")


def _produce_one(config: dict[str, str], topic: str) -> KafkaError | None:
    """Send one message; the delivery error, or None when it was written."""
    results: list[KafkaError | None] = []

    def on_delivery(error: KafkaError | None, _message: Message) -> None:
        results.append(error)

    producer = Producer({**config, "acks": "all", "message.timeout.ms": "10000"})
    producer.produce(topic, b"hello", on_delivery=on_delivery)
    producer.flush(15)
    assert len(results) == 1
    return results[0]


def test_wrong_password_is_rejected(kafka_secure: ClusterHandle) -> None:
    errors: list[KafkaError] = []
    config = {**kafka_secure.client_config(), "sasl.password": "not-the-password"}
    # librdkafka reports authentication failures through error_cb, not as exceptions.
    with_callback: dict[str, Any] = {**config, "error_cb": errors.append}
    admin = AdminClient(with_callback)
    deadline = time.monotonic() + 20
    while not errors and time.monotonic() < deadline:
        admin.poll(0.2)
    assert errors, "no error reported for a wrong password"
    assert errors[0].code() == KafkaError._AUTHENTICATION, errors[0]


def test_admin_can_create_a_topic(kafka_secure: ClusterHandle) -> None:
    topic = create_topic(kafka_secure.client_config(), f"admin-{uuid.uuid4().hex[:8]}")
    topics = AdminClient({**kafka_secure.client_config()}).list_topics(timeout=10).topics
    assert topic in topics


def test_user_without_acls_is_denied_until_granted(kafka_secure: ClusterHandle) -> None:
    admin_config = kafka_secure.client_config()
    topic = create_topic(admin_config, f"acl-{uuid.uuid4().hex[:8]}")
    user = _new_user(kafka_secure)
    config = _user_config(kafka_secure, user)
    principal = f"User:{user.username}"

    error = _produce_one(config, topic)
    assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, error

    group = f"group-{uuid.uuid4().hex[:8]}"
    consumer = Consumer({**config, "group.id": group})
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    try:
        denied = None
        deadline = time.monotonic() + 20
        while denied is None and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None:
                denied = message.error()
    finally:
        consumer.close()
    assert denied is not None and denied.code() in AUTHORIZATION_FAILURES, denied

    grant(admin_config, principal, "TOPIC", topic, ["WRITE"])
    # ACLs reach the broker's authorizer shortly after the controller commits them.
    deadline = time.monotonic() + 20
    while (error := _produce_one(config, topic)) is not None and time.monotonic() < deadline:
        time.sleep(0.3)
    assert error is None, error

    grant(admin_config, principal, "TOPIC", topic, ["READ"])
    grant(admin_config, principal, "GROUP", group, ["READ"])
    deadline = time.monotonic() + 20
    while True:
        try:
            assert consume_all({**config, "group.id": group}, topic, 1, 1, 10) == ["hello"]
            break
        except AssertionError:
            if time.monotonic() > deadline:  # the READ grants never took effect
                raise
            time.sleep(0.3)
