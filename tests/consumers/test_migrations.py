"""Migrations 2-4 move a version-1 store's provenance rows into the records (2), then into
per-field columns (3), and (SQLite) its processed ids into blobs (4)."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from govbus import Contract, EntityKind, PersonChanged, PersonData
from govbus.consumers import KafkaPosition, SourcedEvent, apply_batch, open_store
from govbus.consumers._migrations import MIGRATIONS, SCHEMA_MIGRATIONS_DDL
from govbus.consumers.testing import citizen_id

EVENT = uuid.UUID("0123456789abcdef0123456789abcdef")
OCCURRED = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
APPLIED = datetime(2024, 5, 1, 12, 0, 1, tzinfo=UTC)
KEY = citizen_id(1)


def _check_moved(url: str, contract: Contract) -> None:
    store = open_store(url)
    try:
        record = store.record(EntityKind.PERSON, KEY)
        assert record is not None and record.values["name"] == "张三"
        [name] = record.provenance
        assert (name.field, name.source_department, name.source_sequence) == ("name", "PSB", 7)
        assert (name.event_id, name.occurred_at, name.applied_at) == (EVENT, OCCURRED, APPLIED)
        # The processed ids moved too (SQLite: to 16-byte blobs): a retry is a duplicate.
        assert store.processed_count() == 1
        retry = PersonChanged.upsert(
            department="PSB", key=KEY, sequence=7, data=PersonData(name="张三"), event_id=EVENT
        )
        newer = PersonChanged.upsert(
            department="PSB", key=KEY, sequence=8, data=PersonData(name="李四")
        )
        result = apply_batch(
            store,
            [
                SourcedEvent(retry, KafkaPosition("govbus.base.person", 0, 0)),
                SourcedEvent(newer, KafkaPosition("govbus.base.person", 0, 1)),
            ],
            catalog=contract.catalog,
            group="test",
        )
        assert (result.duplicate_events, result.applied_events) == (1, 1)
        assert store.processed_count() == 2
        record = store.record(EntityKind.PERSON, KEY)
        assert record is not None and record.values["name"] == "李四"
    finally:
        store.close()


def test_sqlite_version_1_store_is_migrated(tmp_path: Path, contract: Contract) -> None:
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(SCHEMA_MIGRATIONS_DDL.format(bigint="INTEGER", text="TEXT", ts="TEXT"))
    for statement in MIGRATIONS[0].render("sqlite"):
        conn.execute(statement)
    conn.execute("INSERT INTO schema_migrations VALUES (1, 'v1', '2024-01-01')")
    conn.execute(
        "INSERT INTO persons (entity_key, name, updated_at) VALUES (?, ?, ?)",
        (KEY, "张三", APPLIED.isoformat()),
    )
    conn.execute(
        "INSERT INTO field_provenance VALUES ('person', ?, 'name', 'PSB', ?, 7, ?, ?)",
        (KEY, EVENT.hex, OCCURRED.isoformat(), APPLIED.isoformat()),
    )
    conn.execute("INSERT INTO processed_events VALUES (?)", (EVENT.hex,))
    conn.close()
    _check_moved(f"sqlite:///{path}", contract)


@pytest.mark.postgres
def test_postgresql_version_1_store_is_migrated(pg_database: str, contract: Contract) -> None:
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(SCHEMA_MIGRATIONS_DDL.format(bigint="bigint", text="text", ts="timestamptz"))
        for statement in MIGRATIONS[0].render("postgresql"):
            conn.execute(statement.encode())
        conn.execute("INSERT INTO schema_migrations VALUES (1, 'v1', now())")
        conn.execute(
            "INSERT INTO persons (entity_key, name, updated_at) VALUES (%s, %s, %s)",
            (KEY, "张三", APPLIED),
        )
        conn.execute(
            "INSERT INTO field_provenance VALUES ('person', %s, 'name', 'PSB', %s, 7, %s, %s)",
            (KEY, EVENT, OCCURRED, APPLIED),
        )
        conn.execute("INSERT INTO processed_events VALUES (%s)", (EVENT,))
    _check_moved(pg_database, contract)
