"""One view's loop: consume the base topic, project, produce, commit offsets in one transaction.

Exactly once: the view records and the base offsets they came from are committed together
(`send_offsets_to_transaction` with the consumer's group metadata, KIP-447), so a crash
anywhere leaves either both or neither. A restarted instance reuses its transactional id,
which aborts the dead one's open transaction at once. Each record goes to the base record's
partition with the same key bytes (the view topic has the base topic's partition count), so
per-key order is the base topic's order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from govbus import (
    GovbusError,
    SchemaResolver,
    Settings,
    consumer_config,
    cyclic_gc_paused,
    decode_confluent,
    encode_confluent,
    producer_config,
    read_schema_id,
)
from govbus.consumers._view_projection import ViewProjection

log = structlog.get_logger("govbus.project")


@dataclass(frozen=True)
class WorkerOptions:
    group_prefix: str = "govbus-projector."
    instance_id: str = "0"
    batch_max_records: int = 2000
    poll_seconds: float = 0.2
    transaction_timeout_ms: int = 15_000
    progress_seconds: float = 2.0
    session_timeout_ms: int = 10_000


@dataclass
class ViewTotals:
    transactions: int = 0
    consumed: int = 0
    written: int = 0
    skipped_undecodable: int = 0


@dataclass
class ViewWorker:
    """Projects one view until `stop()`; run it in its own thread."""

    settings: Settings
    view: ViewProjection
    resolver: SchemaResolver
    schema_id: int
    options: WorkerOptions = field(default_factory=WorkerOptions)
    on_commit: Callable[[int], None] | None = None
    """Called after each committed transaction with its record count (benchmarks)."""
    totals: ViewTotals = field(default_factory=ViewTotals)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _parsed_view: Any = None
    _readers: dict[int, Any] = field(default_factory=dict)
    _reader_schema: Any = None
    _backfill: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)
    _positions: dict[tuple[str, int], int] = field(default_factory=dict)
    _last_progress: float = 0.0
    _last_record_at: float = field(default_factory=time.monotonic)
    _assigned: bool = False
    owned: set[tuple[str, int]] = field(default_factory=set)
    """The base partitions this instance holds now (the group splits them)."""
    _group_lag: int = -1
    """Records of the base topic the whole group has not committed (-1: not measured)."""
    _lag_measured_at: float = 0.0

    @property
    def group(self) -> str:
        return f"{self.options.group_prefix}{self.view.topic}"

    @property
    def transactional_id(self) -> str:
        return f"{self.group}.{self.options.instance_id}"

    @property
    def idle_seconds(self) -> float:
        return time.monotonic() - self._last_record_at

    @property
    def caught_up(self) -> bool:
        return self._assigned and not self._backfill and self._group_lag == 0

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> ViewTotals:
        import fastavro

        self._parsed_view = fastavro.parse_schema(self.view.schema)
        consumer = Consumer(
            consumer_config(
                self.settings,
                self.group,
                **{
                    "isolation.level": "read_committed",
                    "session.timeout.ms": self.options.session_timeout_ms,
                    "heartbeat.interval.ms": min(3000, self.options.session_timeout_ms // 3),
                    "fetch.wait.max.ms": 10,
                    "queued.max.messages.kbytes": 8192,
                    # Static membership: a restarted instance takes its partitions back at
                    # once instead of waiting for its dead self's session to time out.
                    "group.instance.id": self.transactional_id,
                },
            )
        )
        producer = Producer(
            producer_config(
                self.settings,
                **{
                    "transactional.id": self.transactional_id,
                    "transaction.timeout.ms": self.options.transaction_timeout_ms,
                    "linger.ms": 2,
                },
            )
        )
        producer.init_transactions(30)  # fences and aborts a previous incarnation's transaction
        consumer.subscribe(
            [self.view.base_topic], on_assign=self._on_assign, on_revoke=self._on_revoke
        )
        log.info("view started", view=self.view.topic, base=self.view.base_topic)
        try:
            while not self._stopping.is_set():
                messages = consumer.consume(
                    self.options.batch_max_records, self.options.poll_seconds
                )
                if messages:
                    self._transact(consumer, producer, messages)
                else:
                    self._measure_lag(consumer)
                self._report_progress()
        finally:
            consumer.close()
            producer.flush(10)
            log.info("view stopped", view=self.view.topic, **vars(self.totals))
        return self.totals

    def _transact(self, consumer: Any, producer: Any, messages: list[Any]) -> None:
        next_offsets: dict[tuple[str, int], int] = {}
        first_offsets: dict[tuple[str, int], int] = {}
        producer.begin_transaction()
        try:
            with cyclic_gc_paused():  # allocation bursts, no cycles: as in the sync
                written = self._produce_batch(producer, messages, first_offsets, next_offsets)
            # The consumer's position, past any transaction markers after the last record.
            positions = consumer.position([TopicPartition(t, p) for t, p in next_offsets])
            for tp in positions:
                if tp.offset > next_offsets[(tp.topic, tp.partition)]:
                    next_offsets[(tp.topic, tp.partition)] = tp.offset
            offsets = [TopicPartition(t, p, o) for (t, p), o in next_offsets.items()]
            if offsets:
                producer.send_offsets_to_transaction(
                    offsets, consumer.consumer_group_metadata(), 30
                )
            _commit(producer)
        except KafkaException as error:
            self._recover(consumer, producer, first_offsets, error)
            return
        self.totals.transactions += 1
        self.totals.consumed += len(messages)
        self.totals.written += written
        self._positions.update(next_offsets)
        self._last_record_at = time.monotonic()
        if self.on_commit is not None:
            self.on_commit(len(messages))

    def _produce_batch(
        self,
        producer: Any,
        messages: list[Any],
        first_offsets: dict[tuple[str, int], int],
        next_offsets: dict[tuple[str, int], int],
    ) -> int:
        """Project and produce a batch inside the open transaction; returns records written."""
        written = 0
        for message in messages:
            if message.error() is not None:
                log.warning("consumer error", view=self.view.topic, error=str(message.error()))
                continue
            tp = (message.topic(), message.partition())
            first_offsets.setdefault(tp, message.offset())
            next_offsets[tp] = message.offset() + 1
            value = self._view_value(message)
            if value is not None:
                _kind, timestamp = message.timestamp()
                producer.produce(
                    self.view.topic,
                    key=message.key(),
                    value=value,
                    headers=message.headers(),
                    partition=message.partition(),
                    timestamp=max(timestamp, 0),  # the base record's time; 0: none given
                )
                written += 1
        return written

    def _recover(
        self,
        consumer: Any,
        producer: Any,
        first_offsets: dict[tuple[str, int], int],
        error: KafkaException,
    ) -> None:
        """Abort and rewind to the batch's start; a fatal error (fenced) ends the worker."""
        kafka_error = error.args[0]
        if not kafka_error.txn_requires_abort():
            raise error
        log.warning("transaction aborted", view=self.view.topic, error=str(kafka_error))
        producer.abort_transaction(30)
        for (topic, partition), offset in first_offsets.items():
            consumer.seek(TopicPartition(topic, partition, offset))

    def _view_value(self, message: Any) -> bytes | None:
        payload = message.value()
        try:
            writer_id = read_schema_id(payload)
            writer = self._readers.get(writer_id)
            if writer is None:
                writer = self.resolver.schema_for_id(writer_id)
                if writer == self._reader():  # the same schema: no resolution per record
                    writer = self._reader()
                self._readers[writer_id] = writer
            record = decode_confluent(payload, writer, self._reader())
        except (GovbusError, TypeError):  # the sync dead-letters it; a view never shows it
            self.totals.skipped_undecodable += 1
            return None
        projected = self.view.project(record)
        if projected is None:
            return None
        return encode_confluent(self.schema_id, self._parsed_view, projected)

    def _reader(self) -> Any:
        if self._reader_schema is None:
            import fastavro

            self._reader_schema = fastavro.parse_schema(self.view.base_schema)
        return self._reader_schema

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        """A partition behind its high watermark is a backfill: its progress is reported."""
        committed = consumer.committed(partitions, timeout=30)
        for tp in committed:
            _low, high = consumer.get_watermark_offsets(tp, timeout=30, cached=False)
            start = tp.offset if tp.offset >= 0 else 0
            self._positions[(tp.topic, tp.partition)] = start
            if high > start:
                self._backfill[(tp.topic, tp.partition)] = (start, high)
        self.owned |= {(tp.topic, tp.partition) for tp in partitions}
        self._assigned = True
        self._last_record_at = time.monotonic()
        if self._backfill:
            total = sum(high - start for start, high in self._backfill.values())
            log.info("backfill started", view=self.view.topic, records=total)
        log.info("partitions assigned", view=self.view.topic, count=len(partitions))

    def _on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._backfill.pop((tp.topic, tp.partition), None)
            self.owned.discard((tp.topic, tp.partition))
        log.info("partitions revoked", view=self.view.topic, count=len(partitions))

    def _measure_lag(self, consumer: Any) -> None:
        """While idle, at most once a second: the group's lag over every partition, not only
        this instance's (partitions a dead member still holds count too)."""
        now = time.monotonic()
        if now - self._lag_measured_at < 1.0:
            return
        self._lag_measured_at = now
        topic = self.view.base_topic
        try:
            described = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            partitions = [TopicPartition(topic, p) for p in described]
            lag = 0
            for tp in consumer.committed(partitions, timeout=10):
                _low, high = consumer.get_watermark_offsets(tp, timeout=10, cached=False)
                lag += max(high - max(tp.offset, 0), 0)
        except KafkaException as error:
            log.debug("group lag not measured", view=self.view.topic, error=str(error))
            return
        self._group_lag = lag

    def _report_progress(self) -> None:
        if not self._backfill:
            return
        done = {
            tp
            for tp, (_start, high) in self._backfill.items()
            if self._positions.get(tp, 0) >= high
        }
        now = time.monotonic()
        if (
            done == set(self._backfill)
            or now - self._last_progress >= self.options.progress_seconds
        ):
            total = sum(high - start for start, high in self._backfill.values())
            position = sum(
                min(self._positions.get(tp, 0), high) - start
                for tp, (start, high) in self._backfill.items()
            )
            log.info(
                "backfill progress",
                view=self.view.topic,
                done=position,
                total=total,
                percent=round(100 * position / total, 1) if total else 100.0,
            )
            self._last_progress = now
        if done == set(self._backfill):  # totals stay fixed until every partition is done
            self._backfill.clear()
            log.info("view caught up", view=self.view.topic)


def _commit(producer: Any, attempts: int = 5) -> None:
    """Commit; a retriable failure (a timeout) is retried, as librdkafka asks."""
    for attempt in range(attempts):
        try:
            producer.commit_transaction(60)
            return
        except KafkaException as error:
            if not error.args[0].retriable() or attempt == attempts - 1:
                raise
            log.warning("transaction commit retried", error=str(error.args[0]))
