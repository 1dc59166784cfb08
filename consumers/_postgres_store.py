"""PostgreSQL backend (psycopg 3): COPY into temporary tables, then INSERT … ON CONFLICT."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from govbus import EntityKind
from govbus.consumers._key_merge import KeyEvent, split_hot_keys
from govbus.consumers._merge_sql import (
    DELETE_LAYOUT,
    MergeRound,
    MergeRow,
    UpsertShape,
    delete_sql,
    generic_rows,
    holder_known_update,
    record_sql,
    upsert_layout,
    upsert_sql,
)
from govbus.consumers._migrations import MIGRATIONS, SCHEMA_MIGRATIONS_DDL, STATE_TABLES
from govbus.consumers._native_rows import copy_rows
from govbus.consumers._postgres_dedup import claim_event_ids, prune_processed
from govbus.consumers._postgres_records import (
    CUSTOM_PLAN,
    PG_TYPES,
    any_key,
    merge_records,
    state_table_ddl,
)
from govbus.consumers._store import (
    QuarantineRow,
    StoreConflict,
    StoredRecord,
    TopicPartition,
    field_provenance,
    stamps_from_columns,
)
from govbus.consumers._tables import TABLES, ColumnType, columns

_MIGRATION_LOCK = 0x60B05_0001
_ROW_TYPES = {
    "entity_key": "text",
    "_seq": "bigint",
    "_src": "text",
    "_mask": "bigint",
    "_key_authority": "boolean",
    "updated_at": "timestamptz",
}
"""The types of a merge row's columns other than values."""


@cache
def _copy_types(kind: EntityKind, layout: tuple[str, ...]) -> list[str]:
    """The PostgreSQL types of a merge row, for binary COPY and parameters."""
    values = columns(kind)
    return [PG_TYPES[values[n]] if n in values else _ROW_TYPES[n] for n in layout]


@cache
def _json_positions(kind: EntityKind, layout: tuple[str, ...]) -> tuple[int, ...]:
    values = columns(kind)
    return tuple(i for i, n in enumerate(layout) if n in values and values[n] is ColumnType.JSON)


_COPY_FROM = 50
"""Rows per statement from which COPY into the temporary table beats pipelined statements."""

_SHAPED_FROM = 200
"""Rows of a shape from which they get their own statement (COPY, statement, TRUNCATE)
rather than going with the other rare shapes' rows into the generic one."""


@cache
def _params_row(kind: EntityKind, layout: tuple[str, ...]) -> str:
    """One merge row from parameters, as `rows_from` of `govbus.consumers._merge_sql`."""
    typed = ", ".join(
        f"%s::{pg} AS {name}" for name, pg in zip(layout, _copy_types(kind, layout), strict=True)
    )
    return f"(SELECT {typed}) x"


@dataclass(frozen=True, slots=True)
class _Work:
    """Merge rows of one layout and the statement that merges them (`rows_from` None)."""

    kind: EntityKind
    layout: tuple[str, ...]
    rows: list[MergeRow]
    own: tuple[str, ...] | None = None
    """Tombstones: the key authority's fields."""
    shape: UpsertShape | None = None

    def statement(self, rows_from: str | None) -> str:
        if self.own is not None:
            return delete_sql(self.kind, self.own, "postgresql", rows_from)
        return upsert_sql(self.kind, "postgresql", self.shape, rows_from)


def _work(kind: EntityKind, batch_round: MergeRound) -> Iterator[_Work]:
    """A round's rows by statement: big shapes alone, rare ones together, tombstones."""
    generic: list[MergeRow] = []
    for shape, rows in batch_round.upserts.items():
        if len(rows) < _SHAPED_FROM:
            generic += generic_rows(kind, shape, rows)
        else:
            yield _Work(kind, upsert_layout(kind, shape), rows, shape=shape)
    if generic:
        yield _Work(kind, upsert_layout(kind, None), generic)
    for own, rows in batch_round.deletes.items():
        yield _Work(kind, DELETE_LAYOUT, rows, own=own)


class _PostgresWriter:
    def __init__(self, conn: psycopg.Connection[Any], *, native: bool) -> None:
        self._conn = conn
        self._native = native  # merge rows' COPY encoded natively where built
        self._cur = conn.cursor()
        self._filled: set[str] = set()
        """Temporary tables that may hold rows: emptied before their next COPY, else at
        commit. Never unmarked: a savepoint rolled back may have brought rows back."""

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        with self._conn.transaction():
            yield

    def lock_offsets(
        self, group: str, partitions: Collection[TopicPartition]
    ) -> dict[TopicPartition, int]:
        # Advisory locks also cover partitions with no offsets row yet; sorted: no deadlock.
        for topic, partition in sorted(partitions):
            self._cur.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                (f"{group}\x1f{topic}\x1f{partition}",),
            )
        self._cur.execute(
            "SELECT topic, kafka_partition, next_offset FROM applied_offsets "
            "WHERE consumer_group = %s",
            (group,),
        )
        wanted = set(partitions)
        return {(t, p): o for t, p, o in self._cur.fetchall() if (t, p) in wanted}

    def claim_event_ids(self, event_ids: Collection[int], at: datetime) -> set[int]:
        return claim_event_ids(self._conn, self._cur, event_ids, at)

    def merge(
        self,
        kind: EntityKind,
        first: MergeRound,
        later: dict[str, list[KeyEvent]],
        at: datetime,
    ) -> int:
        cold, hot = split_hot_keys(kind, first, later)
        stale = 0
        if hot:  # keys with several events: folded in memory, each written once
            stale += merge_records(
                self._conn,
                kind,
                hot,
                at,
                native=self._native,
                filled=self._filled,
                copy_from=_COPY_FROM,
            )
        small: list[tuple[str, list[MergeRow]]] = []
        for work in _work(kind, cold):
            rows = work.rows
            json_positions = _json_positions(kind, work.layout)
            for row in rows:
                for i in json_positions:
                    if row[i] is not None:
                        row[i] = Jsonb(row[i])
                row[-1] = at
            if len(rows) < _COPY_FROM:  # a few rows: no COPY, no TRUNCATE
                small.append((work.statement(_params_row(kind, work.layout)), rows))
            else:
                stale += self._copied(work)
        return stale + self._pipelined(small)

    def _copied(self, work: _Work) -> int:
        """Rows COPYed into the temporary table, merged by one statement."""
        table = TABLES[work.kind]
        if table in self._filled:
            self._cur.execute(f"TRUNCATE tmp_{table}")
        self._filled.add(table)
        types = _copy_types(work.kind, work.layout)
        # Native, or None: psycopg encodes them.
        payload = copy_rows(work.rows, types, native=self._native)
        with self._cur.copy(
            f"COPY tmp_{table} ({', '.join(work.layout)}) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            if payload is not None:
                copy.write(payload)
            else:
                copy.set_types(types)
                for row in work.rows:
                    copy.write_row(row)
        self._cur.execute(work.statement(None))
        found = self._cur.fetchone()
        return int(found[0]) if found else 0

    def _pipelined(self, work: list[tuple[str, list[MergeRow]]]) -> int:
        """One statement per row, all sent in one pipeline, executed in order."""
        if not work:
            return 0
        cursors = []
        with self._conn.pipeline():
            for statement, rows in work:
                cursor = self._conn.cursor()
                cursor.executemany(statement, rows, returning=True)
                cursors.append(cursor)
        work.clear()
        stale = 0
        for cursor in cursors:
            while True:
                found = cursor.fetchone()
                stale += int(found[0]) if found else 0
                if not cursor.nextset():
                    break
            cursor.close()
        return stale

    def quarantine(self, rows: Sequence[QuarantineRow]) -> None:
        self._cur.executemany(
            "INSERT INTO quarantine (topic, kafka_partition, kafka_offset, error_code, reason, "
            "headers, record_key, record_value, quarantined_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    q.topic,
                    q.partition,
                    q.offset,
                    q.error_code,
                    q.reason,
                    Jsonb(q.headers),
                    q.record_key,
                    q.record_value,
                    q.quarantined_at,
                )
                for q in rows
            ],
        )

    def save_offsets(self, group: str, offsets: dict[TopicPartition, int], at: datetime) -> None:
        self._cur.executemany(
            "INSERT INTO applied_offsets (consumer_group, topic, kafka_partition, next_offset, "
            "updated_at) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (consumer_group, topic, kafka_partition) DO UPDATE SET "
            "next_offset = excluded.next_offset, updated_at = excluded.updated_at",
            [(group, t, p, o, at) for (t, p), o in offsets.items()],
        )

    def refresh_holder_links(
        self, certificate_keys: Collection[str], holders: dict[EntityKind, Collection[str]]
    ) -> None:
        update = holder_known_update("false")
        if certificate_keys:
            match, param = any_key(certificate_keys)
            self._cur.execute(update + f"WHERE entity_key = {match}", (param,), prepare=CUSTOM_PLAN)
        for kind, keys in holders.items():
            if keys:
                match, param = any_key(keys)
                self._cur.execute(
                    update + f"WHERE holder_type = %s AND holder_id = {match}",
                    (str(kind), param),
                    prepare=CUSTOM_PLAN,
                )


def postgres_record(
    kind: EntityKind, key: str, row: Sequence[Any], names: Sequence[str], stamped: Sequence[str]
) -> StoredRecord:
    """A row of `record_sql` as a StoredRecord (psycopg has decoded the types)."""
    seqs, srcs = 3 + len(names), 3 + len(names) + len(stamped)
    return StoredRecord(
        entity=kind,
        key=key,
        values=dict(zip(names, row[3:seqs], strict=True)),
        deleted=row[0],
        updated_at=row[1],
        holder_known=row[2],
        provenance=field_provenance(
            kind, key, stamps_from_columns(stamped, row[seqs:srcs], row[srcs:])
        ),
    )


class PostgresStore:
    """The store in PostgreSQL; any number of sync instances may share it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: psycopg.Connection[Any] = psycopg.connect(url, autocommit=True)
        self._migrate()
        self._create_temp_tables()

    def _create_temp_tables(self) -> None:
        for kind, table in TABLES.items():
            # The merge rows' columns only (every layout's are the generic one's): COPY and
            # the merge's scan then form and read 16 columns a row rather than the 42 of the
            # state table and the extras.
            layout = upsert_layout(kind, None)
            typed = ", ".join(
                f"{n} {t}" for n, t in zip(layout, _copy_types(kind, layout), strict=True)
            )
            self._conn.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS tmp_{table} ({typed}) ON COMMIT DELETE ROWS"
            )
            self._conn.execute(state_table_ddl(kind))

    def _live(self) -> psycopg.Connection[Any]:
        """The connection, opened again if it was lost (a server restart, a terminated
        backend): the error that showed it was transient, and its batch runs again."""
        if self._conn.closed or self._conn.broken:
            self._conn.close()
            self._conn = psycopg.connect(self.url, autocommit=True)
            self._create_temp_tables()
        return self._conn

    def _migrate(self) -> None:
        with self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            self._conn.execute(
                SCHEMA_MIGRATIONS_DDL.format(bigint="bigint", text="text", ts="timestamptz")
            )
            done = {v for (v,) in self._conn.execute("SELECT version FROM schema_migrations")}
            for migration in MIGRATIONS:
                if migration.version in done:
                    continue
                for statement in migration.render("postgresql"):
                    self._conn.execute(statement.encode())
                self._conn.execute(
                    "INSERT INTO schema_migrations VALUES (%s, %s, %s)",
                    (migration.version, migration.description, datetime.now(UTC)),
                )

    @contextmanager
    def transaction(self, *, native: bool = True) -> Iterator[_PostgresWriter]:
        conn = self._live()
        try:
            with conn.transaction():
                yield _PostgresWriter(conn, native=native)
        except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure) as exc:
            raise StoreConflict(type(exc).__name__) from exc

    def stored_offsets(self, group: str) -> dict[TopicPartition, int]:
        rows = (
            self._live()
            .execute(
                "SELECT topic, kafka_partition, next_offset FROM applied_offsets "
                "WHERE consumer_group = %s",
                (group,),
            )
            .fetchall()
        )
        return {(t, p): o for t, p, o in rows}

    def topic_ids(self, group: str) -> dict[str, str]:
        rows = (
            self._live()
            .execute(
                "SELECT topic, topic_id FROM applied_topics WHERE consumer_group = %s", (group,)
            )
            .fetchall()
        )
        return dict(rows)

    def save_topic_ids(self, group: str, topic_ids: dict[str, str]) -> None:
        conn = self._live()
        with conn.transaction(), conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO applied_topics (consumer_group, topic, topic_id) "
                "VALUES (%s, %s, %s) ON CONFLICT (consumer_group, topic) "
                "DO UPDATE SET topic_id = excluded.topic_id",
                [(group, topic, topic_id) for topic, topic_id in topic_ids.items()],
            )

    def record(self, kind: EntityKind, key: str) -> StoredRecord | None:
        sql, names, stamped = record_sql(kind, "%s")
        row = self._live().execute(sql, (key,)).fetchone()
        return None if row is None else postgres_record(kind, key, row, names, stamped)

    def count(self, kind: EntityKind) -> int:
        row = self._live().execute(f"SELECT count(*) FROM {TABLES[kind]}").fetchone()
        return int(row[0]) if row else 0

    def processed_count(self) -> int:
        row = self._live().execute("SELECT count(*) FROM processed_events").fetchone()
        return int(row[0]) if row else 0

    def prune_processed(self, before: datetime, limit: int) -> int:
        return prune_processed(self._live(), before, limit)

    def quarantined(self) -> list[QuarantineRow]:
        return [
            QuarantineRow(t, p, o, c, r, [tuple(h) for h in hs], k, v, at)
            for t, p, o, c, r, hs, k, v, at in self._live()
            .execute(
                "SELECT topic, kafka_partition, kafka_offset, error_code, reason, headers, "
                "record_key, record_value, quarantined_at FROM quarantine ORDER BY id"
            )
            .fetchall()
        ]

    def iter_records(self, kind: EntityKind) -> Iterator[tuple[str, dict[str, Any], bool]]:
        names = list(columns(kind))
        with self._live().cursor() as cur:
            cur.execute(
                f"SELECT entity_key, deleted, {', '.join(names)} FROM {TABLES[kind]} "
                "ORDER BY entity_key"
            )
            for row in cur:
                yield row[0], dict(zip(names, row[2:], strict=True)), row[1]

    def reset(self) -> None:
        conn = self._live()
        with conn.transaction():
            conn.execute(f"TRUNCATE {', '.join(STATE_TABLES)}")

    def close(self) -> None:
        self._conn.close()
