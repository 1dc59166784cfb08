"""The store interface: one Protocol, two backends (SQLite, PostgreSQL), chosen by URL."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from govbus import EntityKind
from govbus.consumers._merge_sql import MergeRow, UpsertShape

TopicPartition = tuple[str, int]

Stamp = list[Any]
"""The provenance of one field as read back:
[source department, source sequence, event id (32 hex), occurred-at µs, applied-at µs].
Stored as two columns per field (migration 3): `<field>__seq`, the sequence, and
`<field>__src`, the rest as one text "department event-id occurred-µs applied-µs".
Integer microseconds since the epoch: cheap to produce per event, exact."""
STAMP_DEPARTMENT, STAMP_SEQUENCE, STAMP_EVENT_ID, STAMP_OCCURRED, STAMP_APPLIED = range(5)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def epoch_us(at: datetime) -> int:
    return (at - EPOCH) // MICROSECOND


def from_epoch_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


@dataclass(slots=True)
class MergeRound:
    """Merge rows with distinct keys: the k-th event of each key of a batch."""

    upserts: dict[UpsertShape, list[MergeRow]] = field(default_factory=dict)
    deletes: dict[tuple[str, ...], list[MergeRow]] = field(default_factory=dict)
    """By the key authority's fields (`_record` included), which the tombstone stamps."""


def stamps_from_columns(
    names: Sequence[str], sequences: Sequence[int | None], texts: Sequence[str | None]
) -> dict[str, Stamp]:
    """The stamps of the fields that have one, from the `__seq` and `__src` columns."""
    stamps: dict[str, Stamp] = {}
    for name, sequence, text in zip(names, sequences, texts, strict=True):
        if sequence is None or text is None:
            continue
        department, event_id, occurred, applied = text.rsplit(" ", 3)
        stamps[name] = [department, int(sequence), event_id, int(occurred), int(applied)]
    return stamps


@dataclass(frozen=True, slots=True)
class FieldProvenance:
    entity: EntityKind
    entity_key: str
    field: str
    source_department: str
    event_id: uuid.UUID
    source_sequence: int
    occurred_at: datetime
    applied_at: datetime


def field_provenance(kind: EntityKind, key: str, stamps: dict[str, Stamp]) -> list[FieldProvenance]:
    """The stored stamps of a record as read-side rows, in field order."""
    return [
        FieldProvenance(
            entity=kind,
            entity_key=key,
            field=name,
            source_department=stamp[STAMP_DEPARTMENT],
            event_id=uuid.UUID(hex=stamp[STAMP_EVENT_ID]),
            source_sequence=stamp[STAMP_SEQUENCE],
            occurred_at=from_epoch_us(stamp[STAMP_OCCURRED]),
            applied_at=from_epoch_us(stamp[STAMP_APPLIED]),
        )
        for name, stamp in sorted(stamps.items())
    ]


@dataclass(frozen=True, slots=True)
class QuarantineRow:
    topic: str
    partition: int
    offset: int
    error_code: str
    reason: str
    headers: list[tuple[str, str | None]]
    record_key: bytes | None
    record_value: bytes | None
    quarantined_at: datetime


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record read back for queries."""

    entity: EntityKind
    key: str
    values: dict[str, Any]
    deleted: bool
    updated_at: datetime
    holder_known: bool | None
    provenance: list[FieldProvenance]


class StoreConflict(Exception):
    """A transaction lost to a concurrent one (a deadlock or serialization failure).

    Nothing of it was committed, so the whole batch can simply run again. Two sync
    instances deadlock when their batches refresh the holder links of the same
    certificates in different orders.
    """


class StoreWriter(Protocol):
    """Bulk operations inside one open transaction; see `apply_batch`."""

    def lock_offsets(
        self, group: str, partitions: Collection[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """Stored next offsets, locked until commit so concurrent writers serialise."""
        ...

    def claim_event_ids(self, event_ids: Collection[int]) -> set[int]:
        """Record the (distinct) event ids, as 128-bit integers (`uuid.UUID.int`), as
        processed; return those recorded before."""
        ...

    def merge(self, kind: EntityKind, rounds: Sequence[MergeRound], at: datetime) -> int:
        """Merge the rounds in order (`govbus.consumers._merge_sql`); return the stale fields."""
        ...

    def quarantine(self, rows: Sequence[QuarantineRow]) -> None: ...

    def save_offsets(
        self, group: str, offsets: dict[TopicPartition, int], at: datetime
    ) -> None: ...

    def refresh_holder_links(
        self, certificate_keys: Collection[str], holders: dict[EntityKind, Collection[str]]
    ) -> None:
        """Recompute `holder_known` of the given certificates and of those held by `holders`."""
        ...


class Store(Protocol):
    url: str

    def transaction(self, *, native: bool = True) -> AbstractContextManager[StoreWriter]:
        """One transaction; `native`: its bulk rows may be encoded by the native module
        where built (`Settings.native`, passed on by `apply_batch`)."""
        ...

    def stored_offsets(self, group: str) -> dict[TopicPartition, int]: ...

    def topic_ids(self, group: str) -> dict[str, str]:
        """The Kafka topic id each topic's stored offsets were taken from."""
        ...

    def save_topic_ids(self, group: str, topic_ids: dict[str, str]) -> None:
        """Record (or, after a rebuild, replace) topic ids, in a transaction of its own."""
        ...

    def record(self, kind: EntityKind, key: str) -> StoredRecord | None: ...

    def count(self, kind: EntityKind) -> int: ...

    def quarantined(self) -> list[QuarantineRow]: ...

    def processed_count(self) -> int: ...

    def iter_records(self, kind: EntityKind) -> Iterator[tuple[str, dict[str, Any], bool]]:
        """(key, values, deleted) of every record, in key order."""
        ...

    def reset(self) -> None:
        """Empty every state table (for `--rebuild`); migrations stay applied."""
        ...

    def close(self) -> None: ...


def open_store(url: str) -> Store:
    """Open (and migrate) the store at `sqlite:///path` or `postgresql://...`."""
    if url.startswith("sqlite:"):
        from govbus.consumers._sqlite_store import SqliteStore

        return SqliteStore(url)
    if url.startswith(("postgresql:", "postgres:")):
        from govbus.consumers._postgres_store import PostgresStore

        return PostgresStore(url)
    scheme = url.split(":", 1)[0]
    raise ValueError(f"unsupported store URL scheme {scheme!r}: use sqlite:/// or postgresql://")
