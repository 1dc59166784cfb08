"""The dedup table is bounded (issue 9 §3), on both backends: ids older than the retention
are pruned in bounded steps, only those, and a duplicate older than the window is still
harmless because per-field sequences refuse it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from govbus import (
    Catalog,
    ChangeEvent,
    Contract,
    EntityKind,
    PersonChanged,
    Settings,
    admin_config,
    ensure_topics,
)
from govbus.consumers import (
    BatchResult,
    KafkaPosition,
    SourcedEvent,
    Store,
    apply_batch,
    open_store,
)
from govbus.consumers._dedup_retention import DedupPruner
from govbus.consumers._sync import SyncOptions, SyncService
from govbus.consumers.testing import (
    citizen_id,
    person,
    publish_events,
    store_sequences,
    store_state,
)
from govbus.testing import KafkaEndpoint

TOPIC = "govbus.base.person"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW = timedelta(days=30)


class Feed:
    def __init__(self) -> None:
        self.offset = 0

    def apply(
        self, store: Store, catalog: Catalog, events: list[ChangeEvent[Any]], at: datetime
    ) -> BatchResult:
        items = []
        for event in events:
            items.append(SourcedEvent(event, KafkaPosition(TOPIC, 0, self.offset)))
            self.offset += 1
        return apply_batch(store, items, catalog=catalog, group="g", now=at)


def test_pruning_removes_only_ids_older_than_the_window_in_bounded_steps(
    store: Store, catalog: Catalog
) -> None:
    feed = Feed()
    old = [person(citizen_id(i), 1, name=f"old{i}") for i in range(25)]
    recent = [person(citizen_id(100 + i), 1, name=f"new{i}") for i in range(7)]
    feed.apply(store, catalog, old, T0)
    feed.apply(store, catalog, recent, T0 + timedelta(days=20))
    now = T0 + timedelta(days=35)  # the old ids are 35 days old, the recent ones 15
    pruner = DedupPruner(store, WINDOW, batch_ids=4, max_statements=3, max_seconds=60)

    steps = []
    while (pruned := pruner.prune(now)) or not steps:
        steps.append(pruned)
    assert steps == [12, 12, 1]  # at most 3 statements of 4 ids a call
    assert store.processed_count() == len(recent)

    # The recent ids are still known: their retries are duplicates.
    again = feed.apply(store, catalog, recent, now)
    assert (again.duplicate_events, again.applied_events) == (7, 0)
    # The old ones are forgotten: applied again, and refused field by field (stale).
    replay = feed.apply(store, catalog, old, now)
    assert (replay.duplicate_events, replay.applied_events, replay.stale_fields) == (0, 25, 25)


def test_pruning_stops_at_its_time_budget(store: Store, catalog: Catalog) -> None:
    feed = Feed()
    feed.apply(store, catalog, [person(citizen_id(i), 1, name="a") for i in range(10)], T0)
    pruner = DedupPruner(store, WINDOW, batch_ids=2, max_statements=100, max_seconds=0)
    assert pruner.prune(T0 + WINDOW * 2) == 2  # one statement, then the budget is spent
    assert store.processed_count() == 8


def test_a_duplicate_older_than_the_window_is_refused_by_sequences(
    store: Store, catalog: Catalog
) -> None:
    feed = Feed()
    key, other = citizen_id(1), citizen_id(2)
    first = person(key, 5, name="first", sex="1")
    newer = person(key, 6, name="newer")
    tombstone = PersonChanged.delete(department="PSB", key=other, sequence=3)
    feed.apply(store, catalog, [first, person(other, 2, name="other")], T0)
    feed.apply(store, catalog, [newer, tombstone], T0 + timedelta(days=1))
    before = (store_state(store, EntityKind.PERSON), store_sequences(store, EntityKind.PERSON))

    later = T0 + timedelta(days=60)
    DedupPruner(store, WINDOW).prune(later)
    assert store.processed_count() == 0

    # Every old event comes again (an outbox replaying a month-old backlog): none is a
    # duplicate any more, and none changes a thing.
    replay = feed.apply(store, catalog, [first, newer, tombstone], later)
    assert replay.duplicate_events == 0 and replay.applied_events == 3
    assert replay.stale_fields == 2 + 1 + 1  # first's two fields, newer's one, the tombstone
    after = (store_state(store, EntityKind.PERSON), store_sequences(store, EntityKind.PERSON))
    assert after == before
    assert before[0][key] == ({"name": "newer", "sex": "1"}, False)


def test_the_retention_is_a_setting() -> None:
    assert Settings().dedup_retention_days == 30
    assert Settings(dedup_retention_days=7).dedup_retention_days == 7


@pytest.mark.kafka
def test_the_sync_prunes_old_ids_between_batches(
    kafka: KafkaEndpoint, contract: Contract, tmp_path: Path
) -> None:
    """The sync itself prunes (its settings' window): ids claimed 60 days ago go, the ids of
    what it has just applied stay."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    settings = Settings(
        bootstrap_servers=kafka.bootstrap_servers, dlq_topic=f"{prefix}dlq", dedup_retention_days=30
    )
    topics = [prefix + t for t in contract.catalog.topics()]
    ensure_topics(admin_config(settings), [*topics, settings.dlq_topic])
    store = open_store(f"sqlite:///{tmp_path / 'base.db'}")
    long_ago = datetime.now(UTC) - timedelta(days=60)
    old = [person(citizen_id(i), 1, name=f"old{i}") for i in range(30)]
    Feed().apply(store, contract.catalog, old, long_ago)  # another group's offsets
    fresh = [person(citizen_id(100 + i), 1, name=f"new{i}") for i in range(5)]
    publish_events(settings, contract, fresh, topic_prefix=prefix)
    options = SyncOptions(group="base-store", topic_prefix=prefix, max_idle_seconds=1.5)
    totals = SyncService(settings, contract, store, options).run()
    assert totals.applied_events == 5
    assert store.processed_count() == 5
    store.close()
