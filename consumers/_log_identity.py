"""Stored offsets point into one log: a topic deleted and created again, or a cluster
rebuilt or migrated, is another log, where those offsets mean other records.

Kafka gives every topic an id (KIP-516). The store keeps, per consumer group, the id of
each topic its offsets were taken from; the sync refuses to start when a topic's id has
changed, instead of silently skipping records (offsets past the new log's records) or
applying the wrong ones. A store made before migration 5 has no ids yet: the first run
records them (trust on first use).
"""

from __future__ import annotations

from confluent_kafka import KafkaException, TopicCollection
from confluent_kafka.admin import AdminClient

from govbus import ErrorCode, GovbusError, Settings, admin_config
from govbus.consumers._store import Store

_DESCRIBE_TIMEOUT = 30.0


def current_topic_ids(settings: Settings, topics: list[str]) -> dict[str, str]:
    """The id of each existing topic among `topics`."""
    admin = AdminClient(admin_config(settings))
    futures = admin.describe_topics(TopicCollection(topics), request_timeout=_DESCRIBE_TIMEOUT)
    ids: dict[str, str] = {}
    for topic, future in futures.items():
        try:
            ids[topic] = str(future.result().topic_id)
        except KafkaException:
            continue  # not there (yet): no stored offset can point into it
    return ids


def check_topic_ids(store: Store, group: str, current: dict[str, str]) -> None:
    """Raise TOPIC_REPLACED if a topic is not the log the offsets came from; record the
    ids of topics seen for the first time."""
    stored = store.topic_ids(group)
    replaced = sorted(t for t, topic_id in current.items() if stored.get(t, topic_id) != topic_id)
    if replaced:
        raise GovbusError(
            ErrorCode.TOPIC_REPLACED,
            f"{', '.join(replaced)}: not the log this store's offsets (group {group}) were "
            "taken from; the topic was recreated or the cluster replaced. Rebuild the store "
            "from the current log: govbus sync --rebuild",
            details={"topics": replaced, "group": group},
        )
    first_seen = {t: topic_id for t, topic_id in current.items() if t not in stored}
    if first_seen:
        store.save_topic_ids(group, first_seen)
