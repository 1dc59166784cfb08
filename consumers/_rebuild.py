"""`--rebuild`: replay the base topics from the beginning into an emptied store.

Partitions are assigned directly (no group membership), read up to the high watermarks
seen at the start, and applied through the same pipeline. Rejections are quarantined
again but not re-sent to the dead-letter topic, which already holds them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from govbus import Contract, Settings, consumer_config
from govbus.consumers._apply import apply_batch
from govbus.consumers._log_identity import current_topic_ids
from govbus.consumers._store import Store
from govbus.consumers._sync import (
    FETCH_LIMITS,
    SyncOptions,
    SyncTotals,
    base_topics,
    raw_record,
    to_batch_items,
)

Progress = Callable[[int, int], None]
"""Called with (records done, records in total)."""


def _partitions(consumer: Consumer, topics: list[str]) -> list[TopicPartition]:
    metadata = consumer.list_topics(timeout=30.0)
    found: list[TopicPartition] = []
    for topic in topics:
        described = metadata.topics.get(topic)
        if described is None or described.error is not None:
            continue
        found.extend(TopicPartition(topic, p) for p in sorted(described.partitions))
    return found


def rebuild_store(
    settings: Settings,
    contract: Contract,
    store: Store,
    options: SyncOptions,
    progress: Progress | None = None,
) -> SyncTotals:
    """Empty the store, then apply every record up to today's end of each partition."""
    consumer = Consumer(
        consumer_config(settings, f"{options.group}-rebuild-{uuid.uuid4().hex[:8]}", **FETCH_LIMITS)
    )
    totals = SyncTotals()
    try:
        topics = base_topics(contract, options.topic_prefix)
        partitions = _partitions(consumer, topics)
        ends: dict[tuple[str, int], int] = {}
        total = 0
        for tp in partitions:
            low, high = consumer.get_watermark_offsets(tp, timeout=30.0)
            if high > low:
                ends[(tp.topic, tp.partition)] = high
                total += high - low
        store.reset()
        store.save_topic_ids(options.group, current_topic_ids(settings, topics))
        consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for (t, p) in ends])
        done = 0
        remaining = dict(ends)
        while remaining:
            messages = consumer.consume(options.batch_max_records, 1.0)
            records = [raw_record(m) for m in messages if m.error() is None]
            records = [r for r in records if r.position.offset < ends[r.position.topic_partition]]
            if records:
                items = to_batch_items(contract, settings, options, records)
                totals.add(
                    apply_batch(
                        store,
                        items,
                        catalog=contract.catalog,
                        group=options.group,
                        native=settings.native,
                    )
                )
                done += len(records)
                if progress is not None:
                    progress(done, total)
            for tp in consumer.position([TopicPartition(t, p) for (t, p) in remaining]):
                if tp.offset >= remaining[(tp.topic, tp.partition)]:
                    del remaining[(tp.topic, tp.partition)]
    finally:
        consumer.close()
    return totals
