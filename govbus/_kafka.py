"""Kafka client configuration in one place, so every role connects the same way."""

from __future__ import annotations

from typing import Any

from govbus._settings import Settings


def client_config(settings: Settings) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap_servers,
        "security.protocol": settings.security_protocol,
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
