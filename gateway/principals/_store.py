"""Principals and token digests in the gateway database (versioned migrations, portable SQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from govbus.gateway._db import Database, Row
from govbus.gateway._migrations import migrate
from govbus.gateway.principals._models import PrincipalRecord, TokenRecord

MIGRATIONS = [
    [
        """CREATE TABLE principals (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            department TEXT,
            roles TEXT NOT NULL,
            password_hash TEXT,
            kafka_user TEXT,
            created_at TEXT NOT NULL,
            disabled_at TEXT
        )""",
        """CREATE TABLE principal_tokens (
            token_id TEXT PRIMARY KEY,
            principal TEXT NOT NULL REFERENCES principals (name) ON DELETE CASCADE,
            digest TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT,
            revoked_at TEXT
        )""",
        "CREATE INDEX principal_tokens_by_principal ON principal_tokens (principal)",
    ],
]
_PRINCIPAL_COLUMNS = "name, kind, department, roles, kafka_user, created_at, disabled_at"
_TOKEN_COLUMNS = "token_id, principal, created_at, expires_at, revoked_at"


def now() -> datetime:
    return datetime.now(UTC)


def _stamp(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _when(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _principal(row: Row) -> PrincipalRecord:
    name, kind, department, roles, kafka_user, created, disabled = row
    return PrincipalRecord(
        name=name,
        kind=kind,
        department=department,
        roles=frozenset(r for r in str(roles).split(",") if r),
        kafka_user=kafka_user,
        created_at=_when(created),
        disabled_at=_when(disabled),
    )


def _token(row: Row) -> TokenRecord:
    token_id, principal, created, expires, revoked = row
    return TokenRecord(
        token_id=token_id,
        principal=principal,
        created_at=_when(created),
        expires_at=_when(expires),
        revoked_at=_when(revoked),
    )


class PrincipalStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        migrate(db, "principals", MIGRATIONS)

    def count(self) -> int:
        with self.db.transaction() as tx:
            return int(tx.execute("SELECT COUNT(*) FROM principals")[0][0])

    def insert(self, record: PrincipalRecord, password_hash: str | None) -> bool:
        """False when the name is taken (nothing is written then)."""
        with self.db.transaction(write=True) as tx:
            if tx.execute("SELECT 1 FROM principals WHERE name = ?", (record.name,)):
                return False
            tx.execute(
                f"INSERT INTO principals ({_PRINCIPAL_COLUMNS}, password_hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.name,
                    record.kind,
                    record.department,
                    ",".join(sorted(record.roles)),
                    record.kafka_user,
                    _stamp(record.created_at),
                    _stamp(record.disabled_at),
                    password_hash,
                ),
            )
        return True

    def get(self, name: str) -> PrincipalRecord | None:
        with self.db.transaction() as tx:
            rows = tx.execute(
                f"SELECT {_PRINCIPAL_COLUMNS} FROM principals WHERE name = ?", (name,)
            )
        return _principal(rows[0]) if rows else None

    def with_password(self, name: str) -> tuple[PrincipalRecord, str | None] | None:
        with self.db.transaction() as tx:
            rows = tx.execute(
                f"SELECT {_PRINCIPAL_COLUMNS}, password_hash FROM principals WHERE name = ?",
                (name,),
            )
        return (_principal(rows[0][:-1]), rows[0][-1]) if rows else None

    def all(self) -> list[PrincipalRecord]:
        with self.db.transaction() as tx:
            rows = tx.execute(f"SELECT {_PRINCIPAL_COLUMNS} FROM principals ORDER BY name")
        return [_principal(r) for r in rows]

    def set_disabled(self, name: str, when: datetime) -> None:
        with self.db.transaction(write=True) as tx:
            tx.execute("UPDATE principals SET disabled_at = ? WHERE name = ?", (_stamp(when), name))

    def set_kafka_user(self, name: str, kafka_user: str | None) -> None:
        with self.db.transaction(write=True) as tx:
            tx.execute("UPDATE principals SET kafka_user = ? WHERE name = ?", (kafka_user, name))

    def delete(self, name: str) -> None:
        with self.db.transaction(write=True) as tx:
            tx.execute("DELETE FROM principal_tokens WHERE principal = ?", (name,))
            tx.execute("DELETE FROM principals WHERE name = ?", (name,))

    def insert_token(self, token: TokenRecord, digest: str) -> None:
        with self.db.transaction(write=True) as tx:
            tx.execute(
                f"INSERT INTO principal_tokens ({_TOKEN_COLUMNS}, digest) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    token.token_id,
                    token.principal,
                    _stamp(token.created_at),
                    _stamp(token.expires_at),
                    _stamp(token.revoked_at),
                    digest,
                ),
            )

    def token(self, token_id: str) -> tuple[TokenRecord, str] | None:
        """The token and its digest."""
        with self.db.transaction() as tx:
            rows = tx.execute(
                f"SELECT {_TOKEN_COLUMNS}, digest FROM principal_tokens WHERE token_id = ?",
                (token_id,),
            )
        return (_token(rows[0][:-1]), str(rows[0][-1])) if rows else None

    def token_and_principal(self, token_id: str) -> tuple[TokenRecord, str, PrincipalRecord] | None:
        """The token, its digest and its principal, in one query (one per request)."""
        token_columns = ", ".join(f"t.{c}" for c in _TOKEN_COLUMNS.split(", "))
        principal_columns = ", ".join(f"p.{c}" for c in _PRINCIPAL_COLUMNS.split(", "))
        with self.db.transaction() as tx:
            rows = tx.execute(
                f"SELECT {token_columns}, t.digest, {principal_columns} FROM principal_tokens t "
                "JOIN principals p ON p.name = t.principal WHERE t.token_id = ?",
                (token_id,),
            )
        if not rows:
            return None
        row = rows[0]
        return _token(row[:5]), str(row[5]), _principal(row[6:])

    def tokens(self, principal: str | None) -> list[TokenRecord]:
        sql = f"SELECT {_TOKEN_COLUMNS} FROM principal_tokens"
        params: tuple[str, ...] = ()
        if principal is not None:
            sql, params = f"{sql} WHERE principal = ?", (principal,)
        with self.db.transaction() as tx:
            rows = tx.execute(f"{sql} ORDER BY principal, created_at", params)
        return [_token(r) for r in rows]

    def revoke_token(self, token_id: str, when: datetime) -> None:
        with self.db.transaction(write=True) as tx:
            tx.execute(
                "UPDATE principal_tokens SET revoked_at = ? "
                "WHERE token_id = ? AND revoked_at IS NULL",
                (_stamp(when), token_id),
            )
