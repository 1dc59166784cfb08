"""The Kafka mirror: a background publisher that follows the database chain.

The database is written first; the mirror catches up. Where it stands is read from the topic
itself (its last message), on start and after any failure, so a restart resends exactly what
is missing and the mirror has no gaps. The producer is idempotent, so its own retries never
duplicate a message; one gateway per database publishes.
"""

from __future__ import annotations

import threading
from typing import Any

import structlog

from govbus import Settings, producer_config
from govbus.gateway.audit._chain import ChainEntry, Checkpoint
from govbus.gateway.audit._kafka import Item, encode_item, ensure_audit_topic, read_topic
from govbus.gateway.audit._store import AuditStore

Position = tuple[int, int]  # (seq, 0 for its entry | 1 for its checkpoint) last published
_START: Position = (0, 1)
_log = structlog.get_logger("gateway.audit")


def _position(item: Item) -> Position:
    return (item.seq, 0 if isinstance(item, ChainEntry) else 1)


class KafkaMirror:
    def __init__(
        self, store: AuditStore, settings: Settings, topic: str, *, idle_seconds: float = 1.0
    ) -> None:
        self.store = store
        self.settings = settings
        self.topic = topic
        self.idle_seconds = idle_seconds
        self.position: Position | None = None  # None until read from the topic
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._caught_up = threading.Condition()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="audit-mirror", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def close(self, timeout: float = 15.0) -> None:
        """Publish what is pending (within `timeout`), then stop."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_until(self, seq: int, timeout: float) -> bool:
        """Whether entry `seq` (and a checkpoint written with it) reached the topic in time."""
        self.wake()
        with self._caught_up:
            return self._caught_up.wait_for(
                lambda: self.position is not None and self.position[0] >= seq, timeout
            )

    def _run(self) -> None:
        producer: Any = None
        while True:
            stopping = self._stop.is_set()
            try:
                if producer is None:
                    producer = self._connect()
                self._publish_pending(producer)
            except Exception as exc:  # the broker is away: try again, the database keeps all
                _log.warning("audit mirror behind", topic=self.topic, error=type(exc).__name__)
                producer = None
                if stopping or self._stop.wait(min(5.0, self.idle_seconds * 5)):
                    return
                continue
            if stopping:
                return
            self._wake.wait(self.idle_seconds)
            self._wake.clear()

    def _connect(self) -> Any:
        from confluent_kafka import Producer

        ensure_audit_topic(self.settings, self.topic)
        last = read_topic(self.settings, self.topic, last_only=True)
        position = _position(last[-1]) if last else _START
        head = self.store.head_seq()
        if position[0] > head:  # another chain's topic, or the database was restored
            _log.error(
                "audit topic is ahead of the database; nothing is mirrored until it catches up",
                topic=self.topic,
                topic_seq=position[0],
                database_seq=head,
            )
        with self._caught_up:
            self.position = position
        return Producer(producer_config(self.settings, **{"linger.ms": 0}))

    def _pending(self, position: Position) -> list[Item]:
        seq, rank = position
        entries = self.store.entries_after(seq)
        high = entries[-1].seq if entries else seq
        low = seq if rank == 0 else seq + 1
        checkpoints: list[Checkpoint] = (
            self.store.checkpoints_between(low, high) if high >= low else []
        )
        return sorted([*entries, *checkpoints], key=_position)

    def _publish_pending(self, producer: Any) -> None:
        failures: list[Any] = []

        def delivered(error: Any, _message: Any) -> None:
            if error is not None:
                failures.append(error)

        while self.position is not None and (items := self._pending(self.position)):
            for item in items:
                producer.produce(
                    self.topic, encode_item(item), str(item.seq).encode(), on_delivery=delivered
                )
                producer.poll(0)
            remaining = producer.flush(30.0)
            if failures or remaining:
                raise RuntimeError(f"{len(failures)} failed, {remaining} undelivered")
            with self._caught_up:
                self.position = _position(items[-1])
                self._caught_up.notify_all()
