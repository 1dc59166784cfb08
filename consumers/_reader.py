"""A read-only view of the base store for servers: many threads, never the sync's writer.

PostgreSQL: a bounded pool of connections (psycopg_pool) in read-only transactions.
SQLite: one read-only connection (`mode=ro`, `query_only`) per thread, a WAL reader that
never blocks the sync's writer nor waits for it. Connections open on first use, so a server
starts before the store exists; an absent or unreachable store is STORE_UNAVAILABLE.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from govbus import EntityKind, ErrorCode, GovbusError, redact_url
from govbus.consumers._merge_sql import records_sql
from govbus.consumers._store import StoredRecord

# By the key's licence type (the data field may be unset); catalog type codes hold no % or _.
_HOLDER_SQL = (
    "SELECT entity_key FROM certificates "
    "WHERE holder_type = {p} AND holder_id = {p} AND entity_key LIKE {p} "
    "ORDER BY entity_key"
)


class StoreReader(Protocol):
    url: str

    def records(self, kind: EntityKind, keys: Sequence[str]) -> dict[str, StoredRecord]:
        """The stored records among `keys` (deleted ones included), by key."""
        ...

    def certificates_held(self, holder_type: str, holder_id: str, licence_type: str) -> list[str]:
        """Keys of the certificates of `licence_type` held by the holder, in key order."""
        ...

    def close(self) -> None: ...


def open_store_reader(url: str, *, pool_size: int = 8) -> StoreReader:
    """A reader of the store at `sqlite:///path` or `postgresql://...` (nothing opened yet)."""
    if url.startswith("sqlite:///") and url != "sqlite:///":
        return SqliteReader(url)
    if url.startswith(("postgresql:", "postgres:")):
        return PostgresReader(url, pool_size)
    raise GovbusError(
        ErrorCode.INVALID_STORE_URL,
        f"unsupported store URL {redact_url(url)!r}: use sqlite:///path or postgresql://…",
    )


def _unavailable(url: str, reason: str) -> GovbusError:
    return GovbusError(
        ErrorCode.STORE_UNAVAILABLE, f"cannot read the store {redact_url(url)}: {reason}"
    )


class SqliteReader:
    def __init__(self, url: str) -> None:
        self.url = url
        self._path = Path(url.removeprefix("sqlite:///")).absolute()
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if not self._path.is_file():
            raise _unavailable(self.url, "no SQLite store there (yet)")
        try:
            conn = sqlite3.connect(
                f"{self._path.as_uri()}?mode=ro", uri=True, timeout=5.0, check_same_thread=False
            )
            conn.execute("PRAGMA query_only = 1")
        except sqlite3.Error as exc:
            raise _unavailable(self.url, type(exc).__name__) from None
        self._local.conn = conn
        with self._lock:
            self._opened.append(conn)
        return conn

    def records(self, kind: EntityKind, keys: Sequence[str]) -> dict[str, StoredRecord]:
        from govbus.consumers._sqlite_store import sqlite_record

        if not keys:
            return {}
        sql, names, stamped = records_sql(kind, "IN (SELECT value FROM json_each(?))")
        try:
            rows = self._connection().execute(sql, (json.dumps(list(keys)),)).fetchall()
        except sqlite3.Error as exc:
            raise _unavailable(self.url, type(exc).__name__) from None
        return {row[0]: sqlite_record(kind, row[0], row[1:], names, stamped) for row in rows}

    def certificates_held(self, holder_type: str, holder_id: str, licence_type: str) -> list[str]:
        try:
            rows = self._connection().execute(
                _HOLDER_SQL.format(p="?"), (holder_type, holder_id, f"{licence_type}:%")
            )
            return [str(r[0]) for r in rows]
        except sqlite3.Error as exc:
            raise _unavailable(self.url, type(exc).__name__) from None

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()


class PostgresReader:
    def __init__(self, url: str, pool_size: int) -> None:
        from psycopg_pool import ConnectionPool

        self.url = url
        self._pool: ConnectionPool[Any] = ConnectionPool(
            url,
            min_size=1,
            max_size=max(1, pool_size),
            kwargs={"autocommit": True},
            configure=_read_only,
            open=False,
            timeout=5.0,
            name="store-reader",
        )
        self._opened = False
        self._lock = threading.Lock()

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        import psycopg
        import psycopg_pool

        if not self._opened:
            with self._lock:
                if not self._opened:
                    self._pool.open(wait=False)
                    self._opened = True
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg_pool.PoolTimeout:
            raise _unavailable(self.url, "no connection within 5 s") from None
        except psycopg.Error as exc:
            raise _unavailable(self.url, type(exc).__name__) from None

    def records(self, kind: EntityKind, keys: Sequence[str]) -> dict[str, StoredRecord]:
        from govbus.consumers._postgres_store import postgres_record

        if not keys:
            return {}
        sql, names, stamped = records_sql(kind, "= ANY(%s)")
        with self._connection() as conn:
            rows = conn.execute(sql, (list(keys),)).fetchall()
        return {row[0]: postgres_record(kind, row[0], row[1:], names, stamped) for row in rows}

    def certificates_held(self, holder_type: str, holder_id: str, licence_type: str) -> list[str]:
        with self._connection() as conn:
            rows = conn.execute(
                _HOLDER_SQL.format(p="%s"), (holder_type, holder_id, f"{licence_type}:%")
            ).fetchall()
        return [str(r[0]) for r in rows]

    def close(self) -> None:
        if self._opened:
            self._pool.close()


def _read_only(conn: Any) -> None:
    # Each statement of the pool's autocommit connections is a read-only transaction.
    conn.execute("SET default_transaction_read_only = on")
