"""A topic deleted and created again is another log: the sync refuses the store's old
offsets (TOPIC_REPLACED) instead of skipping or misapplying records; a rebuild recovers."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from govbus import Contract, EntityKind, ErrorCode, GovbusError, Settings, admin_config
from govbus import ensure_topics as create_topics
from govbus.consumers import open_store
from govbus.consumers._log_identity import current_topic_ids
from govbus.consumers._rebuild import rebuild_store
from govbus.consumers._sync import SyncOptions, SyncService
from govbus.consumers.testing import citizen_id, person, publish_events
from govbus.testing import KafkaEndpoint

pytestmark = pytest.mark.kafka


def recreate(settings: Settings, topics: list[str]) -> None:
    admin = AdminClient(admin_config(settings))
    for future in admin.delete_topics(topics, operation_timeout=30).values():
        future.result()
    deadline = time.monotonic() + 60
    while True:  # deletion completes asynchronously on the broker
        try:
            create_topics(admin_config(settings), topics, partitions=2)
            if set(current_topic_ids(settings, topics)) == set(topics):
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.5)


def test_a_recreated_topic_is_refused_until_the_store_is_rebuilt(
    kafka: KafkaEndpoint, contract: Contract, tmp_path: Path
) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}."
    settings = Settings(bootstrap_servers=kafka.bootstrap_servers, dlq_topic=f"{prefix}dlq")
    topics = [prefix + t for t in contract.catalog.topics()]
    create_topics(admin_config(settings), [*topics, settings.dlq_topic], partitions=2)
    store = open_store(f"sqlite:///{tmp_path / 'base.db'}")
    options = SyncOptions(group="base-store", topic_prefix=prefix, max_idle_seconds=1.5)
    keys = [citizen_id(n) for n in range(6)]

    publish_events(
        settings, contract, [person(k, 1, name="old") for k in keys], topic_prefix=prefix
    )
    assert SyncService(settings, contract, store, options).run().applied_events == 6
    ids_before = store.topic_ids("base-store")
    assert set(ids_before) == set(topics)

    person_topic = prefix + "govbus.base.person"
    recreate(settings, [person_topic])
    # The new log holds as many records as the old one did: offsets alone cannot tell.
    publish_events(
        settings, contract, [person(k, 2, name="new") for k in keys], topic_prefix=prefix
    )

    with pytest.raises(GovbusError) as caught:
        SyncService(settings, contract, store, options).run()
    assert caught.value.code is ErrorCode.TOPIC_REPLACED
    assert caught.value.details["topics"] == [person_topic]
    assert store.record(EntityKind.PERSON, keys[0]).values["name"] == "old"  # untouched

    rebuild_store(settings, contract, store, options)
    assert {store.record(EntityKind.PERSON, k).values["name"] for k in keys} == {"new"}
    assert store.topic_ids("base-store")[person_topic] != ids_before[person_topic]
    assert SyncService(settings, contract, store, options).run().applied_events == 0
    store.close()
