"""The sync service: a consumer group over the base topics, feeding `apply_batch`.

Offsets live in the store. On assignment each partition is positioned at the offset
stored there (the beginning if none); Kafka commits happen after each DB commit only so
lag monitoring sees progress. On revoke the in-flight batch is applied before the
partitions go; on loss it is dropped for them (the new owner replays from the store).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from govbus import (
    Contract,
    Settings,
    admin_config,
    consumer_config,
    cyclic_gc_paused,
    ensure_topics,
)
from govbus.consumers._apply import apply_batch
from govbus.consumers._batch_items import BatchItem, BatchResult, KafkaPosition, RejectedRecord
from govbus.consumers._dead_letters import DeadLetterPublisher
from govbus.consumers._decode import RawRecord, decode_record, validate_record
from govbus.consumers._dedup_retention import DedupPruner
from govbus.consumers._log_identity import check_topic_ids, current_topic_ids
from govbus.consumers._store import Store
from govbus.consumers._store_errors import describe_store_error
from govbus.consumers._store_retry import StoreRetry

log = structlog.get_logger("govbus.sync")


@dataclass(frozen=True)
class SyncOptions:
    group: str = "base-store"
    topic_prefix: str = ""
    batch_max_records: int = 5000
    batch_max_seconds: float = 0.05
    poll_seconds: float = 0.2
    max_idle_seconds: float | None = None
    """Stop once no record arrived for this long (`--until-idle`); None runs forever."""
    create_topics: bool = True
    instance_id: str | None = None
    """Static group membership: a restarted instance takes its partitions back at once."""
    session_timeout_ms: int = 10_000
    store_retry_seconds: float = 120.0
    """How long a store that is unavailable (transient errors) is retried before stopping."""


@dataclass
class SyncTotals:
    batches: int = 0
    applied_events: int = 0
    duplicate_events: int = 0
    replayed_records: int = 0
    quarantined: int = 0

    def add(self, result: BatchResult) -> None:
        self.batches += 1
        self.applied_events += result.applied_events
        self.duplicate_events += result.duplicate_events
        self.replayed_records += result.replayed_records
        self.quarantined += result.quarantined


FETCH_LIMITS: dict[str, Any] = {
    # librdkafka prefetches up to 64 MB / 100k records per partition by default: cap it so
    # the process's memory does not depend on how far behind it is. A few MB still keep
    # several batches of small events ready while the previous batch commits.
    "queued.max.messages.kbytes": 8192,
    "queued.min.messages": 20_000,
    "fetch.max.bytes": 4 * 1024 * 1024,
    "max.partition.fetch.bytes": 1024 * 1024,
}


def base_topics(contract: Contract, prefix: str) -> list[str]:
    return [prefix + topic for topic in contract.catalog.topics()]


def raw_record(message: Any) -> RawRecord:
    return RawRecord(
        position=KafkaPosition(message.topic(), message.partition(), message.offset()),
        key=message.key(),
        value=message.value(),
        headers=message.headers() or [],
    )


def to_batch_items(
    contract: Contract, settings: Settings, options: SyncOptions, records: list[RawRecord]
) -> list[BatchItem]:
    """Decode and validate a batch. The cyclic collector is paused meanwhile: the events
    hold no cycles (refcounting frees them), yet their allocation bursts set off full-heap
    collections, ≈ 20 % of the decoding time."""
    items: list[BatchItem] = []
    with cyclic_gc_paused():
        for raw in records:
            decoded = decode_record(
                contract,
                raw,
                topic_prefix=options.topic_prefix,
                max_event_bytes=settings.max_event_bytes,
            )
            items.append(validate_record(contract.catalog, decoded, raw))
    return items


@dataclass
class SyncService:
    settings: Settings
    contract: Contract
    store: Store
    options: SyncOptions = field(default_factory=SyncOptions)
    dead_letters: DeadLetterPublisher | None = None
    on_batch: Callable[[list[BatchItem], BatchResult], None] | None = None
    """Called after each DB commit (benchmarks measure visibility with it)."""
    totals: SyncTotals = field(default_factory=SyncTotals)
    _pending: list[RawRecord] = field(default_factory=list)
    _stopping: bool = False
    _consumer: Any = None
    _last_activity: float = field(default_factory=time.monotonic)
    _assigned: bool = False
    _pruner: DedupPruner | None = None

    def stop(self) -> None:
        """Ask the loop to finish its batch and leave the group (safe from a signal handler)."""
        self._stopping = True

    def run(self) -> SyncTotals:
        topics = base_topics(self.contract, self.options.topic_prefix)
        if self.options.create_topics:
            ensure_topics(admin_config(self.settings), [*topics, self.settings.dlq_topic])
        topic_ids = current_topic_ids(self.settings, topics)
        self._retry.run(
            lambda: check_topic_ids(self.store, self.options.group, topic_ids), "checking topics"
        )
        self.dead_letters = self.dead_letters or DeadLetterPublisher(self.settings)
        overrides: dict[str, Any] = {
            **FETCH_LIMITS,
            "fetch.wait.max.ms": 10,
            "session.timeout.ms": self.options.session_timeout_ms,
            "heartbeat.interval.ms": min(3000, self.options.session_timeout_ms // 3),
        }
        if self.options.instance_id:
            overrides["group.instance.id"] = self.options.instance_id
        self._consumer = Consumer(consumer_config(self.settings, self.options.group, **overrides))
        self._consumer.subscribe(
            topics, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )
        log.info("sync started", group=self.options.group, topics=topics, store=_scheme(self.store))
        retention = timedelta(days=self.settings.dedup_retention_days)
        self._pruner = DedupPruner(self.store, retention)
        gc.freeze()  # the long-lived startup heap (contract, clients) need not be re-scanned
        try:
            while not self._stopping and not self._idle_for_too_long():
                self._collect()
                if self._pending:
                    self._apply_pending()
                self._prune()
        finally:
            self._consumer.close()  # revokes: any pending batch is applied first
            self.dead_letters.close()
            log.info("sync stopped", **vars(self.totals))
        return self.totals

    def _idle_for_too_long(self) -> bool:
        # Idle counts from the first assignment: joining the group is not being caught up.
        limit = self.options.max_idle_seconds
        return (
            limit is not None and self._assigned and time.monotonic() - self._last_activity > limit
        )

    def _collect(self) -> None:
        """Fill the batch: block for the first record, then take what is already fetched.

        `consume(n, timeout)` returns only once it has n records or the timeout passed, so
        it is called for one record when blocking, and with no timeout when topping up:
        a batch never waits for records that have not arrived. Under load, records pile up
        while the previous batch commits, so batches still grow (up to the size bound).
        """
        self._keep(self._consumer.consume(1, self.options.poll_seconds))
        deadline = time.monotonic() + self.options.batch_max_seconds
        while (
            self._pending
            and len(self._pending) < self.options.batch_max_records
            and time.monotonic() < deadline
        ):
            more = self._consumer.consume(self.options.batch_max_records - len(self._pending), 0)
            if not more:
                break
            self._keep(more)

    def _keep(self, messages: list[Any]) -> None:
        for message in messages:
            if message.error() is None:
                self._pending.append(raw_record(message))
            else:
                log.warning("consumer error", error=str(message.error()))
        if messages:
            self._last_activity = time.monotonic()

    def _apply_pending(self) -> None:
        records, self._pending = self._pending, []
        items = to_batch_items(self.contract, self.settings, self.options, records)
        rejected = [i for i in items if isinstance(i, RejectedRecord)]
        if rejected and self.dead_letters is not None:
            self.dead_letters.publish(rejected)  # before the DB commit: at least once
        result = apply_batch(
            self.store,
            items,
            catalog=self.contract.catalog,
            group=self.options.group,
            retry=self._retry,
            dead_letter=self.dead_letters.publish if self.dead_letters is not None else None,
            native=self.settings.native,
        )
        self.totals.add(result)
        for r in [*rejected, *result.store_refused]:
            log.warning(
                "record rejected",
                code=r.error_code,
                reason=r.reason,
                topic=r.position.topic,
                partition=r.position.partition,
                offset=r.position.offset,
            )
        self._commit_to_kafka(result)
        self._last_activity = time.monotonic()  # a slow batch (store retries) is not idleness
        if self.on_batch is not None:
            self.on_batch(items, result)

    def _prune(self) -> None:
        """Between batches, bounded: old dedup ids go (`govbus.consumers._dedup_retention`)."""
        if self._pruner is None:
            return
        try:
            pruned = self._pruner.prune_if_due()
        except Exception as error:  # state is untouched: the next call tries again
            log.warning("pruning dedup ids failed", error=describe_store_error(error))
            return
        if pruned:
            log.debug("dedup ids pruned", count=pruned)

    def _commit_to_kafka(self, result: BatchResult) -> None:
        if not result.next_offsets:
            return
        offsets = [TopicPartition(t, p, o) for (t, p), o in result.next_offsets.items()]
        try:
            self._consumer.commit(offsets=offsets, asynchronous=True)
        except KafkaException as error:  # monitoring only; the store has the truth
            log.debug("kafka commit skipped", error=str(error))

    @property
    def _retry(self) -> StoreRetry:
        return StoreRetry(max_seconds=self.options.store_retry_seconds)

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        group = self.options.group
        stored = self._retry.run(lambda: self.store.stored_offsets(group), "reading offsets")
        for tp in partitions:
            tp.offset = stored.get((tp.topic, tp.partition), OFFSET_BEGINNING)
        consumer.incremental_assign(partitions)
        self._assigned = True
        self._last_activity = time.monotonic()
        log.info("partitions assigned", count=len(partitions))

    def _on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        if self._pending:
            self._apply_pending()  # finish the in-flight batch while we still own it
        log.info("partitions revoked", count=len(partitions))

    def _on_lost(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        lost = {(tp.topic, tp.partition) for tp in partitions}
        self._pending = [r for r in self._pending if r.position.topic_partition not in lost]
        log.warning("partitions lost", count=len(partitions))


def _scheme(store: Store) -> str:
    return store.url.split(":", 1)[0]
