"""The audit topic: one partition, kept forever, entries and checkpoints in chain order.

Each message value is the JSON of an entry or a checkpoint with a `kind` member; the key is
the sequence number. Retention is unlimited (retention.ms=-1, retention.bytes=-1) and the
cleanup policy is `delete`, so compaction never drops an entry.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from pydantic import ValidationError

from govbus import Settings, client_config, ensure_topics
from govbus.gateway.audit._chain import ChainEntry, Checkpoint

Item = ChainEntry | Checkpoint
# Readers take a throwaway group (they assign the partition and commit nothing); on a secured
# cluster they need READ on this group prefix besides READ and DESCRIBE on the topic.
READER_GROUP_PREFIX = "govbus-audit-reader-"
TOPIC_CONFIG = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}


class UnreadableMessage(ValueError):
    def __init__(self, offset: int) -> None:
        super().__init__(f"the message at offset {offset} is not an audit entry or checkpoint")
        self.offset = offset


def encode_item(item: Item) -> bytes:
    kind = "entry" if isinstance(item, ChainEntry) else "checkpoint"
    return json.dumps({"kind": kind, **item.model_dump(mode="json")}, sort_keys=True).encode()


def decode_item(value: bytes | None, offset: int) -> Item:
    try:
        data = json.loads(value or b"")
        kind = data.pop("kind")
        if kind == "entry":
            return ChainEntry.model_validate(data)
        if kind == "checkpoint":
            return Checkpoint.model_validate(data)
    except (ValueError, KeyError, TypeError, AttributeError, ValidationError):
        pass
    raise UnreadableMessage(offset)


def ensure_audit_topic(settings: Settings, topic: str) -> None:
    ensure_topics(client_config(settings), [topic], partitions=1, config=TOPIC_CONFIG)


def _reader(settings: Settings) -> Any:
    from confluent_kafka import Consumer

    return Consumer(
        client_config(settings)
        | {
            "group.id": f"{READER_GROUP_PREFIX}{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )


def read_topic(
    settings: Settings, topic: str, *, last_only: bool = False, timeout: float = 30.0
) -> list[Item]:
    """The topic's items in offset order (or only the last one), up to its end as of now."""
    from confluent_kafka import TopicPartition

    consumer = _reader(settings)
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=timeout)
        if high <= low:
            return []
        start = high - 1 if last_only else low
        consumer.assign([TopicPartition(topic, 0, start)])
        items: list[Item] = []
        while True:
            message = consumer.poll(timeout)
            if message is None:
                raise TimeoutError(f"{topic}: no message within {timeout:.0f}s")
            if message.error():
                raise RuntimeError(f"{topic}: {message.error()}")
            items.append(decode_item(message.value(), message.offset()))
            if message.offset() >= high - 1:
                return items
    finally:
        consumer.close()
