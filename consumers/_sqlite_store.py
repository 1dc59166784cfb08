"""SQLite backend: stdlib sqlite3 in WAL mode, bulk writes with executemany.

WAL with synchronous=NORMAL: a commit is atomic and consistent, but the last commits
before a power loss (not a process crash) may be rolled back. The offsets roll back with
them (same transaction), so those events are re-applied: still exactly-once in effect.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from govbus import EntityKind
from govbus.consumers._key_merge import KeyEvent, split_hot_keys
from govbus.consumers._merge_sql import (
    DELETE_LAYOUT,
    STALE_FUNCTION,
    MergeRound,
    MergeRow,
    delete_sql,
    generic_rows,
    holder_known_update,
    record_sql,
    upsert_layout,
    upsert_sql,
)
from govbus.consumers._migrations import (
    MIGRATIONS,
    SCHEMA_MIGRATIONS_DDL,
    STATE_TABLES,
    UNHEX_FUNCTION,
)
from govbus.consumers._sqlite_records import merge_records, to_db
from govbus.consumers._store import (
    QuarantineRow,
    StoredRecord,
    TopicPartition,
    TransactionLost,
    epoch_us,
    field_provenance,
    stamps_from_columns,
)
from govbus.consumers._tables import TABLES, ColumnType, columns


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


_SHAPED_FROM = 8
"""Rows of a shape from which they get their own statement rather than the generic one
(`govbus.consumers._merge_sql`): few shapes per batch keep the connection's statement cache warm."""


@cache
def _typed(kind: EntityKind, layout: tuple[str, ...]) -> tuple[tuple[int, ColumnType], ...]:
    """Positions and types of the values in a merge row that sqlite3 cannot bind as they are."""
    types = columns(kind)
    return tuple(
        (i, types[name])
        for i, name in enumerate(layout)
        if name in types and types[name] is not ColumnType.TEXT
    )


_IDS = (
    "WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < ?1) "
    "SELECT substr(?2, n * 16 + 1, 16) FROM i"
)
_INSERT_IDS = (
    "INSERT INTO processed_events (event_id, processed_at) "
    f"SELECT *, ?3 FROM ({_IDS}) WHERE true ON CONFLICT DO NOTHING"
)


def _path_from_url(url: str) -> str:
    if not url.startswith("sqlite:///"):
        raise ValueError("a SQLite store URL looks like sqlite:///relative.db or sqlite:////abs.db")
    return url.removeprefix("sqlite:///")


class _StaleCounter:
    """The SQLite function the merge calls in its stale branches only (see `_merge_sql`)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, value: Any) -> Any:
        self.count += 1
        return value


class _SqliteWriter:
    def __init__(self, conn: sqlite3.Connection, stale: _StaleCounter) -> None:
        self._conn = conn
        self._stale = stale
        self._savepoints = 0

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        self._savepoints += 1
        name = f"part{self._savepoints}"
        self._conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except Exception as error:
            if not self._conn.in_transaction:  # SQLite ended it (RAISE(ROLLBACK), disk full)
                raise TransactionLost(error) from error
            self._conn.execute(f"ROLLBACK TO {name}")
            self._conn.execute(f"RELEASE {name}")
            raise
        self._conn.execute(f"RELEASE {name}")

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

    def claim_event_ids(self, event_ids: Collection[int], at: datetime) -> set[int]:
        # The ids travel as one blob of 16-byte ids, cut apart in SQL (migration 4); the
        # claim time as µs since the epoch (migration 6).
        ids = (len(event_ids) - 1, b"".join(i.to_bytes(16, "big") for i in event_ids))
        claim = (*ids, epoch_us(at))
        # Usually no id is known: insert them all and compare the count, without a lookup.
        self._conn.execute("SAVEPOINT claim")
        inserted = self._conn.execute(_INSERT_IDS, claim).rowcount
        if inserted != len(event_ids):  # some were known: undo, name them, insert the rest
            self._conn.execute("ROLLBACK TO claim")
        self._conn.execute("RELEASE claim")
        if inserted == len(event_ids):
            return set()
        known = {
            int.from_bytes(row[0], "big")
            for row in self._conn.execute(
                f"SELECT event_id FROM processed_events WHERE event_id IN ({_IDS})", ids
            )
        }
        self._conn.execute(_INSERT_IDS, claim)
        return known

    def _merge(
        self,
        statement: str,
        kind: EntityKind,
        layout: tuple[str, ...],
        rows: Sequence[MergeRow],
        at: str,
    ) -> int:
        typed = _typed(kind, layout)
        for row in rows:
            for i, ctype in typed:
                if row[i] is not None:
                    row[i] = to_db(row[i], ctype)
            row[-1] = at
        before = self._stale.count
        self._conn.executemany(statement, rows)
        return self._stale.count - before

    def merge(
        self,
        kind: EntityKind,
        first: MergeRound,
        later: dict[str, list[KeyEvent]],
        at: datetime,
    ) -> int:
        updated = at.isoformat()
        cold, hot = split_hot_keys(kind, first, later)
        stale = merge_records(self._conn, kind, hot, updated) if hot else 0
        generic: list[MergeRow] = []  # the rows of rare shapes
        for shape, rows in cold.upserts.items():
            if len(rows) < _SHAPED_FROM:
                generic += generic_rows(kind, shape, rows)
                continue
            statement = upsert_sql(kind, "sqlite", shape)
            stale += self._merge(statement, kind, upsert_layout(kind, shape), rows, updated)
        if generic:
            statement = upsert_sql(kind, "sqlite")
            stale += self._merge(statement, kind, upsert_layout(kind, None), generic, updated)
        for own, deletes in cold.deletes.items():
            statement = delete_sql(kind, own, "sqlite")
            stale += self._merge(statement, kind, DELETE_LAYOUT, deletes, updated)
        return stale

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
        update = holder_known_update("0")
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


def sqlite_record(
    kind: EntityKind, key: str, row: Sequence[Any], names: Sequence[str], stamped: Sequence[str]
) -> StoredRecord:
    """A row of `record_sql` (SQLite's text types decoded) as a StoredRecord."""
    cols = columns(kind)
    seqs, srcs = 3 + len(names), 3 + len(names) + len(stamped)
    stamps = stamps_from_columns(stamped, row[seqs:srcs], row[srcs:])
    return StoredRecord(
        entity=kind,
        key=key,
        values={n: _from_db(v, cols[n]) for n, v in zip(names, row[3:seqs], strict=True)},
        deleted=bool(row[0]),
        updated_at=datetime.fromisoformat(row[1]),
        holder_known=None if row[2] is None else bool(row[2]),
        provenance=field_provenance(kind, key, stamps),
    )


class SqliteStore:
    """The store in one SQLite file; several processes may share it (WAL, busy timeout)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn = sqlite3.connect(_path_from_url(url), isolation_level=None, timeout=60.0)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA busy_timeout = 60000")
        self._stale = _StaleCounter()
        self._conn.create_function(STALE_FUNCTION, 1, self._stale)
        self._conn.create_function(UNHEX_FUNCTION, 1, bytes.fromhex, deterministic=True)
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
            if self._conn.in_transaction:  # else SQLite rolled it back itself
                self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    @contextmanager
    def transaction(self, *, native: bool = True) -> Iterator[_SqliteWriter]:
        del native  # nothing of SQLite's is native
        with self._immediate() as conn:
            yield _SqliteWriter(conn, self._stale)

    def stored_offsets(self, group: str) -> dict[TopicPartition, int]:
        rows = self._conn.execute(
            "SELECT topic, kafka_partition, next_offset FROM applied_offsets "
            "WHERE consumer_group = ?",
            (group,),
        )
        return {(t, p): o for t, p, o in rows}

    def topic_ids(self, group: str) -> dict[str, str]:
        rows = self._conn.execute(
            "SELECT topic, topic_id FROM applied_topics WHERE consumer_group = ?", (group,)
        )
        return dict(rows)

    def save_topic_ids(self, group: str, topic_ids: dict[str, str]) -> None:
        with self._immediate() as conn:
            conn.executemany(
                "INSERT INTO applied_topics (consumer_group, topic, topic_id) VALUES (?, ?, ?) "
                "ON CONFLICT (consumer_group, topic) DO UPDATE SET topic_id = excluded.topic_id",
                [(group, topic, topic_id) for topic, topic_id in topic_ids.items()],
            )

    def record(self, kind: EntityKind, key: str) -> StoredRecord | None:
        sql, names, stamped = record_sql(kind, "?")
        row = self._conn.execute(sql, (key,)).fetchone()
        return None if row is None else sqlite_record(kind, key, row, names, stamped)

    def count(self, kind: EntityKind) -> int:
        (n,) = self._conn.execute(f"SELECT count(*) FROM {TABLES[kind]}").fetchone()
        return int(n)

    def processed_count(self) -> int:
        (n,) = self._conn.execute("SELECT count(*) FROM processed_events").fetchone()
        return int(n)

    def prune_processed(self, before: datetime, limit: int) -> int:
        # The table's head (rowid order = claim order) holds the oldest: of its first
        # `limit` rows, those claimed before `before` (a clock that went back only delays
        # the ones behind a newer id). Its own short write transaction.
        with self._immediate() as conn:
            return conn.execute(
                "DELETE FROM processed_events WHERE rowid IN (SELECT rowid FROM "
                "processed_events ORDER BY rowid LIMIT ?) AND processed_at < ?",
                (limit, epoch_us(before)),
            ).rowcount

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
