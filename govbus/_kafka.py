"""Kafka client configuration in one place, so every role connects the same way."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from govbus._errors import ErrorCode, GovbusError
from govbus._logging import kafka_logger
from govbus._settings import Settings

BROKER_HINT = "start one with `govbus dev kafka up`, or set GOVBUS_BOOTSTRAP_SERVERS"


def client_config(settings: Settings) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap_servers,
        "security.protocol": settings.security_protocol,
        # librdkafka's own lines go through structlog (served by poll), never raw to stderr.
        "logger": kafka_logger(),
    }
    if settings.security_protocol.startswith("SASL"):
        conf["sasl.mechanism"] = settings.sasl_mechanism
        conf["sasl.username"] = settings.sasl_username or ""
        conf["sasl.password"] = (
            settings.sasl_password.get_secret_value() if settings.sasl_password else ""
        )
    return conf


def producer_config(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """Idempotent producer: no loss, no duplicates from retries, order kept per partition."""
    conf = client_config(settings) | {
        "acks": "all",
        "enable.idempotence": True,
        "compression.type": "lz4",
        "linger.ms": 5,
        "batch.size": 1_000_000,
        "queue.buffering.max.messages": 200_000,
        "message.max.bytes": settings.max_event_bytes + 64_000,
    }
    return conf | overrides


def consumer_config(settings: Settings, group_id: str, **overrides: Any) -> dict[str, Any]:
    """Manual offsets (the store keeps its own), cooperative rebalancing."""
    conf = client_config(settings) | {
        "group.id": group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        "isolation.level": "read_committed",
    }
    return conf | overrides


def admin_config(settings: Settings, **overrides: Any) -> dict[str, Any]:
    return client_config(settings) | overrides


def ensure_topics(
    conf: dict[str, Any],
    topics: list[str],
    *,
    partitions: int = 6,
    replication_factor: int = -1,
    config: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> list[str]:
    """Create the missing topics; returns those created. -1 uses the broker's default RF."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    admin = AdminClient(conf)
    existing = set(admin.list_topics(timeout=timeout).topics)
    wanted = [t for t in topics if t not in existing]
    if not wanted:
        return []
    futures = admin.create_topics(
        [NewTopic(t, partitions, replication_factor, config=config or {}) for t in wanted],
        operation_timeout=timeout,
    )
    created = []
    for topic, future in futures.items():
        try:
            future.result()
            created.append(topic)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    return created


def require_broker(settings: Settings, timeout: float | None = None) -> None:
    """Fail fast, with one BROKER_UNAVAILABLE error, unless the cluster answers metadata.

    Every command that needs Kafka calls this first, so an absent broker costs at most
    `connect_timeout_seconds` (a refused connection: a fraction of a second) instead of
    minutes of client retries. The client's own lines are demoted to debug: the error says it.
    """
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient

    limit = settings.connect_timeout_seconds if timeout is None else timeout
    fatal: list[Any] = []
    gave_up = threading.Event()

    def on_error(error: Any) -> None:
        if error.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._AUTHENTICATION):
            fatal.append(error)
            gave_up.set()

    conf = client_config(settings) | {
        "logger": kafka_logger(ceiling=logging.DEBUG),
        "error_cb": on_error,
        "socket.connection.setup.timeout.ms": max(1000, int(limit * 1000)),
    }
    admin = AdminClient(conf)
    deadline = time.monotonic() + limit
    while True:
        try:
            admin.list_topics(timeout=max(0.05, min(0.25, deadline - time.monotonic())))
            return
        except KafkaException:
            pass
        admin.poll(0)  # serves error_cb
        if gave_up.is_set() or time.monotonic() >= deadline:
            break
    where = settings.bootstrap_servers
    if fatal and fatal[0].code() == KafkaError._AUTHENTICATION:
        source = settings.origin_note("sasl_password")  # where the password came from
        hint = "check GOVBUS_SASL_USERNAME and GOVBUS_SASL_PASSWORD"
        raise GovbusError(
            ErrorCode.BROKER_UNAVAILABLE,
            f"the Kafka broker at {where} refused the credentials ({source}{hint})",
        )
    source = settings.origin_note("bootstrap_servers")
    raise GovbusError(
        ErrorCode.BROKER_UNAVAILABLE, f"no Kafka broker at {where} ({source}{BROKER_HINT})"
    )
