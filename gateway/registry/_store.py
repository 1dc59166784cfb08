"""Registry tables in the gateway database: schemas by id, subject versions, configs.

Ids are assigned under the database write lock and persisted, so they are stable across
restarts; one schema text (by canonical fingerprint) has one id in every subject.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from govbus.gateway._db import Database, Transaction
from govbus.gateway._migrations import migrate

GLOBAL = ""  # the config row for the registry-wide default
# Ids are 32-bit (PostgreSQL INTEGER); a larger one names no schema, and SQLite cannot even
# bind one beyond 64 bits (OverflowError), so lookups answer "not found" before asking.
MAX_SCHEMA_ID = 2**31 - 1

# Version 1 kept IF NOT EXISTS: stores made before the ledger existed already hold its tables.
_V1 = (
    """CREATE TABLE IF NOT EXISTS registry_schemas (
        id INTEGER PRIMARY KEY,
        fingerprint TEXT NOT NULL UNIQUE,
        schema_type TEXT NOT NULL,
        schema_text TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS registry_versions (
        subject TEXT NOT NULL,
        version INTEGER NOT NULL,
        schema_id INTEGER NOT NULL REFERENCES registry_schemas (id),
        PRIMARY KEY (subject, version)
    )""",
    """CREATE TABLE IF NOT EXISTS registry_config (
        subject TEXT PRIMARY KEY,
        compatibility TEXT NOT NULL
    )""",
)
_MIGRATIONS = (_V1,)


class StoredSchema(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    schema_type: str
    schema_text: str


class SubjectVersion(BaseModel):
    model_config = ConfigDict(frozen=True)

    subject: str
    version: int
    schema_id: int
    schema_text: str


class RegistryStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        migrate(db, "registry", _MIGRATIONS)

    def subjects(self) -> list[str]:
        with self.db.transaction() as tx:
            rows = tx.execute("SELECT DISTINCT subject FROM registry_versions ORDER BY subject")
        return [r[0] for r in rows]

    def versions(self, subject: str) -> list[SubjectVersion]:
        with self.db.transaction() as tx:
            return _versions(tx, subject)

    def schema(self, schema_id: int) -> StoredSchema | None:
        if not 0 < schema_id <= MAX_SCHEMA_ID:
            return None
        with self.db.transaction() as tx:
            rows = tx.execute(
                "SELECT id, schema_type, schema_text FROM registry_schemas WHERE id = ?",
                (schema_id,),
            )
        if not rows:
            return None
        return StoredSchema(id=rows[0][0], schema_type=rows[0][1], schema_text=rows[0][2])

    def usages(self, schema_id: int) -> list[tuple[str, int]]:
        if not 0 < schema_id <= MAX_SCHEMA_ID:
            return []
        with self.db.transaction() as tx:
            rows = tx.execute(
                "SELECT subject, version FROM registry_versions WHERE schema_id = ? "
                "ORDER BY subject, version",
                (schema_id,),
            )
        return [(r[0], int(r[1])) for r in rows]

    def register(
        self,
        subject: str,
        fingerprint: str,
        schema_text: str,
        check: Callable[[list[SubjectVersion]], None],
    ) -> SubjectVersion:
        """Add a version unless this schema is already in the subject.

        `check` sees the subject's versions inside the write transaction and raises to refuse,
        so nothing is stored when the schema is incompatible.
        """
        with self.db.transaction(write=True) as tx:
            existing = _versions(tx, subject)
            found = tx.execute(
                "SELECT id FROM registry_schemas WHERE fingerprint = ?", (fingerprint,)
            )
            if found:
                schema_id = int(found[0][0])
                for version in existing:
                    if version.schema_id == schema_id:
                        return version
            check(existing)
            if not found:
                schema_id = int(
                    tx.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM registry_schemas")[0][0]
                )
                tx.execute(
                    "INSERT INTO registry_schemas (id, fingerprint, schema_type, schema_text) "
                    "VALUES (?, ?, 'AVRO', ?)",
                    (schema_id, fingerprint, schema_text),
                )
            number = (existing[-1].version if existing else 0) + 1
            tx.execute(
                "INSERT INTO registry_versions (subject, version, schema_id) VALUES (?, ?, ?)",
                (subject, number, schema_id),
            )
        return SubjectVersion(
            subject=subject, version=number, schema_id=schema_id, schema_text=schema_text
        )

    def compatibility(self, subject: str = GLOBAL) -> str | None:
        with self.db.transaction() as tx:
            rows = tx.execute(
                "SELECT compatibility FROM registry_config WHERE subject = ?", (subject,)
            )
        return str(rows[0][0]) if rows else None

    def set_compatibility(self, level: str, subject: str = GLOBAL) -> None:
        with self.db.transaction(write=True) as tx:
            tx.execute("DELETE FROM registry_config WHERE subject = ?", (subject,))
            tx.execute(
                "INSERT INTO registry_config (subject, compatibility) VALUES (?, ?)",
                (subject, level),
            )


def _versions(tx: Transaction, subject: str) -> list[SubjectVersion]:
    rows = tx.execute(
        "SELECT v.version, v.schema_id, s.schema_text FROM registry_versions v "
        "JOIN registry_schemas s ON s.id = v.schema_id WHERE v.subject = ? ORDER BY v.version",
        (subject,),
    )
    return [
        SubjectVersion(subject=subject, version=int(r[0]), schema_id=int(r[1]), schema_text=r[2])
        for r in rows
    ]
