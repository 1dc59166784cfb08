"""The store interface: one Protocol, two backends (SQLite, PostgreSQL), chosen by URL."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from govbus import EntityKind, ErrorCode, GovbusError, redact_url
from govbus.consumers._key_merge import KeyEvent
from govbus.consumers._merge_sql import MergeRound

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


class TransactionLost(Exception):
    """The database ended the whole transaction while a savepoint was open (SQLite after a
    trigger's RAISE(ROLLBACK), a full disk or an I/O error): the savepoint cannot be rolled
    back alone, so the batch's parts cannot go on. `cause` is the database's error."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(type(cause).__name__)
        self.cause = cause


class StoreWriter(Protocol):
    """Bulk operations inside one open transaction; see `apply_batch`."""

    def savepoint(self) -> AbstractContextManager[None]:
        """A nested part of the transaction: rolled back alone if it raises (then re-raised)."""
        ...

    def lock_offsets(
        self, group: str, partitions: Collection[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """Stored next offsets, locked until commit so concurrent writers serialise."""
        ...

    def claim_event_ids(self, event_ids: Collection[int], at: datetime) -> set[int]:
        """Record the (distinct) event ids, as 128-bit integers (`uuid.UUID.int`), as
        processed at `at` (what the retention counts from); return those recorded before."""
        ...

    def merge(
        self,
        kind: EntityKind,
        first: MergeRound,
        later: dict[str, list[KeyEvent]],
        at: datetime,
    ) -> int:
        """Merge the batch's rows of `kind`: `first`, each key's first event (by the merge
        statements of `govbus.consumers._merge_sql`), and `later`, by key, the later events
        of the keys that have several (hot keys: folded in memory with their first, each
        written once, `govbus.consumers._key_merge`). Return the stale fields."""
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

    def prune_processed(self, before: datetime, limit: int) -> int:
        """Forget at most `limit` processed ids claimed before `before`, oldest first, in a
        transaction of its own; return how many (`govbus.consumers._dedup_retention`)."""
        ...

    def iter_records(self, kind: EntityKind) -> Iterator[tuple[str, dict[str, Any], bool]]:
        """(key, values, deleted) of every record, in key order."""
        ...

    def reset(self) -> None:
        """Empty every state table (for `--rebuild`); migrations stay applied."""
        ...

    def close(self) -> None: ...


def open_store(url: str, *, create: bool = True) -> Store:
    """Open (and migrate) the store at `sqlite:///path` or `postgresql://...`.

    `create=False` is for read commands: an absent SQLite file is STORE_NOT_FOUND rather
    than a new empty store. Every failure is a GovbusError naming the URL, password removed.
    """
    shown = redact_url(url)
    if url.startswith("sqlite:"):
        return _open_sqlite(url, shown, create)
    if url.startswith(("postgresql:", "postgres:")):
        return _open_postgres(url, shown)
    raise GovbusError(
        ErrorCode.INVALID_STORE_URL,
        f"unsupported store URL {shown!r}: use sqlite:///path/to.db or postgresql://…",
    )


def _open_sqlite(url: str, shown: str, create: bool) -> Store:
    import sqlite3

    from govbus.consumers._sqlite_store import SqliteStore

    if not url.startswith("sqlite:///") or url == "sqlite:///":
        raise GovbusError(
            ErrorCode.INVALID_STORE_URL,
            f"store URL {shown!r}: a SQLite URL is sqlite:///relative.db or sqlite:////abs.db",
        )
    path = Path(url.removeprefix("sqlite:///")).absolute()
    if not create and not path.is_file():
        raise GovbusError(
            ErrorCode.STORE_NOT_FOUND,
            f"no SQLite store at {path} ({shown}): run `govbus sync` to make it, "
            "or point --store / GOVBUS_STORE_URL at an existing one",
        )
    try:
        return SqliteStore(url)
    except sqlite3.Error as exc:
        reason = "its directory is missing or not writable" if not path.parent.is_dir() else exc
        raise GovbusError(
            ErrorCode.STORE_UNAVAILABLE, f"cannot open the SQLite store at {path}: {reason}"
        ) from None


def _open_postgres(url: str, shown: str) -> Store:
    import psycopg

    from govbus.consumers._postgres_store import PostgresStore

    try:
        return PostgresStore(url)
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise GovbusError(
            ErrorCode.STORE_UNAVAILABLE,
            f"cannot reach the PostgreSQL store {shown}: {redact_url(reason)}",
        ) from None
