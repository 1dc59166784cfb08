"""What a batch holds and what applying it gives: records as read, decoded events,
rejections, and the batch's counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from govbus import ChangeEvent
from govbus.consumers._store import TopicPartition

Headers = list[tuple[str, str | None]]


class KafkaPosition(NamedTuple):
    """Where a record was read. Named tuples, these three: the native scan reads them by
    position (`govbus.consumers._native_rows`), and a test asserts their field order."""

    topic: str
    partition: int
    offset: int

    @property
    def topic_partition(self) -> TopicPartition:
        return (self.topic, self.partition)


class RejectedRecord(NamedTuple):
    """A record that failed decoding or validation, or that the store refused: it goes to
    quarantine (and the dead-letter topic), not to state."""

    position: KafkaPosition
    error_code: str
    reason: str
    headers: Headers
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class RawRecord:
    """What the sync needs of a Kafka message."""

    position: KafkaPosition
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes | None]]

    def rejected(self, error_code: str, reason: str) -> RejectedRecord:
        """This record as a rejection; `reason` must name no personal value."""
        headers = [(n, v if v is None else v.decode("utf-8", "replace")) for n, v in self.headers]
        return RejectedRecord(self.position, error_code, reason, headers, self.key, self.value)


class SourcedEvent(NamedTuple):
    """A decoded, validated event and where it was read from (the native scan reads the
    first two by position)."""

    event: ChangeEvent[Any]
    position: KafkaPosition
    raw: RawRecord | None = None
    """The record it was decoded from: what the DLQ and quarantine get if the store refuses it."""


BatchItem = SourcedEvent | RejectedRecord


@dataclass(slots=True)
class BatchResult:
    applied_events: int = 0
    duplicate_events: int = 0
    replayed_records: int = 0
    quarantined: int = 0
    stale_fields: int = 0
    refused_fields: int = 0
    next_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    store_refused: list[RejectedRecord] = field(default_factory=list)
    """Events the store refused (STORE_REFUSED), now in quarantine; counted in `quarantined`."""

    def add_part(self, part: BatchResult) -> None:
        self.applied_events += part.applied_events
        self.duplicate_events += part.duplicate_events
        self.quarantined += part.quarantined
        self.stale_fields += part.stale_fields
        self.refused_fields += part.refused_fields
