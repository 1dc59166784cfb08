"""The store interface: one Protocol, two backends (SQLite, PostgreSQL), chosen by URL."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from govbus import EntityKind

TopicPartition = tuple[str, int]


@dataclass(slots=True)
class EntityState:
    """A record as the merge sees it: values, per-field sequences, and whether it exists."""

    values: dict[str, Any]
    sequences: dict[str, int] = field(default_factory=dict)
    exists: bool = False
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class EntityRow:
    key: str
    values: dict[str, Any]
    deleted: bool
    updated_at: datetime


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


class StoreWriter(Protocol):
    """Bulk operations inside one open transaction; see `apply_batch`."""

    def lock_offsets(
        self, group: str, partitions: Collection[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """Stored next offsets, locked until commit so concurrent writers serialise."""
        ...

    def known_event_ids(self, event_ids: Collection[uuid.UUID]) -> set[uuid.UUID]: ...

    def load_states(self, kind: EntityKind, keys: Collection[str]) -> dict[str, EntityState]: ...

    def upsert_entities(self, kind: EntityKind, rows: Sequence[EntityRow]) -> None: ...

    def upsert_provenance(self, rows: Sequence[FieldProvenance]) -> None: ...

    def record_processed(self, event_ids: Collection[uuid.UUID]) -> None: ...

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

    def transaction(self) -> AbstractContextManager[StoreWriter]: ...

    def stored_offsets(self, group: str) -> dict[TopicPartition, int]: ...

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
        from consumers._sqlite_store import SqliteStore

        return SqliteStore(url)
    if url.startswith(("postgresql:", "postgres:")):
        from consumers._postgres_store import PostgresStore

        return PostgresStore(url)
    scheme = url.split(":", 1)[0]
    raise ValueError(f"unsupported store URL scheme {scheme!r}: use sqlite:/// or postgresql://")
