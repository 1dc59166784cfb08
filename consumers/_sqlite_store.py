"""SQLite backend: stdlib sqlite3 in WAL mode, bulk writes with executemany.

WAL with synchronous=NORMAL: a commit is atomic and consistent, but the last commits
before a power loss (not a process crash) may be rolled back. The offsets roll back with
them (same transaction), so those events are re-applied: still exactly-once in effect.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from consumers._migrations import MIGRATIONS, SCHEMA_MIGRATIONS_DDL, STATE_TABLES
from consumers._store import (
    EntityRow,
    EntityState,
    QuarantineRow,
    StoredRecord,
    TopicPartition,
    encode_json,
    field_provenance,
)
from consumers._tables import TABLES, ColumnType, columns
from govbus import EntityKind

_HOLDER_TABLES = {EntityKind.PERSON: "persons", EntityKind.LEGAL_ENTITY: "legal_entities"}


def _to_db(value: Any, ctype: ColumnType) -> Any:
    if value is None:
        return None
    if ctype is ColumnType.JSON:
        return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    if isinstance(value, date | Decimal):
        return value.isoformat() if isinstance(value, date) else str(value)
    return value


def _from_db(value: Any, ctype: ColumnType) -> Any:
    if value is None:
        return None
    if ctype is ColumnType.DATE:
        return date.fromisoformat(value)
    if ctype is ColumnType.NUMERIC:
        return Decimal(value)
    if ctype is ColumnType.JSON:
        return json.loads(value)
    return value


@cache
def _typed_columns(kind: EntityKind) -> tuple[tuple[str, ColumnType], ...]:
    """The columns SQLite stores as text but Python holds as date, Decimal or dict."""
    return tuple((n, t) for n, t in columns(kind).items() if t is not ColumnType.TEXT)


def _path_from_url(url: str) -> str:
    if not url.startswith("sqlite:///"):
        raise ValueError("a SQLite store URL looks like sqlite:///relative.db or sqlite:////abs.db")
    return url.removeprefix("sqlite:///")


class _SqliteWriter:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def lock_offsets(
        self, group: str, partitions: Collection[TopicPartition]
    ) -> dict[TopicPartition, int]:
        # BEGIN IMMEDIATE already holds the database write lock.
        rows = self._conn.execute(
            "SELECT topic, kafka_partition, next_offset FROM applied_offsets "
            "WHERE consumer_group = ?",
            (group,),
        )
        wanted = set(partitions)
        return {(t, p): o for t, p, o in rows if (t, p) in wanted}

    def claim_event_ids(self, event_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        ids_json = json.dumps([e.hex for e in event_ids])
        known = {
            uuid.UUID(hex=row[0])
            for row in self._conn.execute(
                "SELECT event_id FROM processed_events WHERE event_id IN "
                "(SELECT value FROM json_each(?))",
                (ids_json,),
            )
        }
        self._conn.execute(
            "INSERT INTO processed_events (event_id) SELECT value FROM json_each(?) WHERE true "
            "ON CONFLICT DO NOTHING",
            (ids_json,),
        )
        return known

    def load_states(self, kind: EntityKind, keys: Collection[str]) -> dict[str, EntityState]:
        names = list(columns(kind))
        typed = _typed_columns(kind)
        states: dict[str, EntityState] = {}
        for row in self._conn.execute(
            f"SELECT entity_key, deleted, provenance, {', '.join(names)} FROM {TABLES[kind]} "
            "WHERE entity_key IN (SELECT value FROM json_each(?))",
            (json.dumps(list(keys)),),
        ):
            values = dict(zip(names, row[3:], strict=True))
            for name, ctype in typed:
                values[name] = _from_db(values[name], ctype)
            states[row[0]] = EntityState(
                values, json.loads(row[2]), exists=True, deleted=bool(row[1])
            )
        return states

    def upsert_entities(
        self, kind: EntityKind, rows: Sequence[EntityRow], updated_at: datetime
    ) -> None:
        names = list(columns(kind))
        typed = _typed_columns(kind)
        all_names = ["entity_key", *names, "provenance", "deleted", "updated_at"]
        updates = ", ".join(f"{n} = excluded.{n}" for n in all_names[1:])
        updated = updated_at.isoformat()  # one per batch
        positions = [(names.index(name), ctype) for name, ctype in typed]
        params = []
        for key, state in rows:
            values = [state.values[n] for n in names]
            for i, ctype in positions:
                values[i] = _to_db(values[i], ctype)
            params.append(
                (
                    key,
                    *values,
                    encode_json(state.provenance),
                    int(state.deleted),
                    updated,
                )
            )
        self._conn.executemany(
            f"INSERT INTO {TABLES[kind]} ({', '.join(all_names)}) "
            f"VALUES ({', '.join('?' * len(all_names))}) "
            f"ON CONFLICT (entity_key) DO UPDATE SET {updates}",
            params,
        )

    def quarantine(self, rows: Sequence[QuarantineRow]) -> None:
        self._conn.executemany(
            "INSERT INTO quarantine (topic, kafka_partition, kafka_offset, error_code, reason, "
            "headers, record_key, record_value, quarantined_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    q.topic,
                    q.partition,
                    q.offset,
                    q.error_code,
                    q.reason,
                    json.dumps(q.headers),
                    q.record_key,
                    q.record_value,
                    q.quarantined_at.isoformat(),
                )
                for q in rows
            ],
        )

    def save_offsets(self, group: str, offsets: dict[TopicPartition, int], at: datetime) -> None:
        self._conn.executemany(
            "INSERT INTO applied_offsets (consumer_group, topic, kafka_partition, next_offset, "
            "updated_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (consumer_group, topic, kafka_partition) DO UPDATE SET "
            "next_offset = excluded.next_offset, updated_at = excluded.updated_at",
            [(group, t, p, o, at.isoformat()) for (t, p), o in offsets.items()],
        )

    def refresh_holder_links(
        self, certificate_keys: Collection[str], holders: dict[EntityKind, Collection[str]]
    ) -> None:
        known = " ".join(
            f"WHEN '{kind}' THEN EXISTS (SELECT 1 FROM {table} h "
            "WHERE h.entity_key = certificates.holder_id AND NOT h.deleted)"
            for kind, table in _HOLDER_TABLES.items()
        )
        update = f"UPDATE certificates SET holder_known = CASE holder_type {known} ELSE 0 END "
        if certificate_keys:
            self._conn.execute(
                update + "WHERE entity_key IN (SELECT value FROM json_each(?))",
                (json.dumps(list(certificate_keys)),),
            )
        for kind, keys in holders.items():
            if keys:
                self._conn.execute(
                    update + "WHERE holder_type = ? AND holder_id IN "
                    "(SELECT value FROM json_each(?))",
                    (str(kind), json.dumps(list(keys))),
                )


class SqliteStore:
    """The store in one SQLite file; several processes may share it (WAL, busy timeout)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn = sqlite3.connect(_path_from_url(url), isolation_level=None, timeout=60.0)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA busy_timeout = 60000")
        self._migrate()

    def _migrate(self) -> None:
        with self._immediate():
            self._conn.execute(
                SCHEMA_MIGRATIONS_DDL.format(bigint="INTEGER", text="TEXT", ts="TEXT")
            )
            done = {v for (v,) in self._conn.execute("SELECT version FROM schema_migrations")}
            for migration in MIGRATIONS:
                if migration.version in done:
                    continue
                for statement in migration.render("sqlite"):
                    self._conn.execute(statement)
                self._conn.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                    (
                        migration.version,
                        migration.description,
                        datetime.now().astimezone().isoformat(),
                    ),
                )

    @contextmanager
    def _immediate(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[_SqliteWriter]:
        with self._immediate() as conn:
            yield _SqliteWriter(conn)

    def stored_offsets(self, group: str) -> dict[TopicPartition, int]:
        rows = self._conn.execute(
            "SELECT topic, kafka_partition, next_offset FROM applied_offsets "
            "WHERE consumer_group = ?",
            (group,),
        )
        return {(t, p): o for t, p, o in rows}

    def record(self, kind: EntityKind, key: str) -> StoredRecord | None:
        cols = columns(kind)
        names = list(cols)
        extra = ", holder_known" if kind is EntityKind.CERTIFICATE else ", NULL"
        row = self._conn.execute(
            f"SELECT deleted, updated_at{extra}, provenance, {', '.join(names)} "
            f"FROM {TABLES[kind]} WHERE entity_key = ?",
            (key,),
        ).fetchone()
        if row is None:
            return None
        return StoredRecord(
            entity=kind,
            key=key,
            values={n: _from_db(v, cols[n]) for n, v in zip(names, row[4:], strict=True)},
            deleted=bool(row[0]),
            updated_at=datetime.fromisoformat(row[1]),
            holder_known=None if row[2] is None else bool(row[2]),
            provenance=field_provenance(kind, key, json.loads(row[3])),
        )

    def count(self, kind: EntityKind) -> int:
        (n,) = self._conn.execute(f"SELECT count(*) FROM {TABLES[kind]}").fetchone()
        return int(n)

    def processed_count(self) -> int:
        (n,) = self._conn.execute("SELECT count(*) FROM processed_events").fetchone()
        return int(n)

    def quarantined(self) -> list[QuarantineRow]:
        return [
            QuarantineRow(
                t, p, o, c, r, [tuple(h) for h in json.loads(hs)], k, v, datetime.fromisoformat(at)
            )
            for t, p, o, c, r, hs, k, v, at in self._conn.execute(
                "SELECT topic, kafka_partition, kafka_offset, error_code, reason, headers, "
                "record_key, record_value, quarantined_at FROM quarantine ORDER BY id"
            )
        ]

    def iter_records(self, kind: EntityKind) -> Iterator[tuple[str, dict[str, Any], bool]]:
        cols = columns(kind)
        names = list(cols)
        for row in self._conn.execute(
            f"SELECT entity_key, deleted, {', '.join(names)} FROM {TABLES[kind]} "
            "ORDER BY entity_key"
        ):
            values = {n: _from_db(v, cols[n]) for n, v in zip(names, row[2:], strict=True)}
            yield row[0], values, bool(row[1])

    def reset(self) -> None:
        with self._immediate() as conn:
            for table in STATE_TABLES:
                conn.execute(f"DELETE FROM {table}")

    def close(self) -> None:
        self._conn.close()
