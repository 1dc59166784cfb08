"""Reading and marking outbox rows, for PostgreSQL and SQLite.

PostgreSQL, several relays side by side: `claim` locks a batch of unsent rows with
`FOR UPDATE SKIP LOCKED` and keeps only the rows whose aggregate has no earlier unsent
row outside the batch. A row locked by another relay (or skipped) therefore holds back
every later row of its aggregate until it is marked sent, so an aggregate's rows reach
the broker in order whichever relay sends them; different aggregates proceed in
parallel. Locks are held until the batch's marks commit; a crashed relay's locks vanish
with its connection and its rows are sent again (at-least-once).

SQLite has no row locks: run one relay per database file; it polls.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg

from producers._outbox_tables import NOTIFY_CHANNEL


@dataclass(frozen=True, slots=True)
class OutboxRow:
    position: int
    event_id: str
    aggregatetype: str
    aggregateid: str
    payload: str


class OutboxStore(Protocol):
    def claim(self, limit: int) -> list[OutboxRow]:
        """Start a transaction and return the next unsent rows this relay may publish."""
        ...

    def mark_sent(self, positions: Sequence[int]) -> None: ...

    def mark_refused(self, refusals: Sequence[tuple[int, str]]) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def wait(self, timeout: float) -> None:
        """Block until new rows may exist or `timeout` passes."""
        ...

    def close(self) -> None: ...


_PG_CLAIM = """
WITH claimed AS (
    SELECT position, aggregateid FROM govbus_outbox
    WHERE sent_at IS NULL
    ORDER BY position
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
SELECT o.position, o.id::text, o.aggregatetype, o.aggregateid, o.payload::text
FROM govbus_outbox o JOIN claimed c ON c.position = o.position
WHERE NOT EXISTS (
    SELECT 1 FROM govbus_outbox e
    WHERE e.sent_at IS NULL
      AND e.aggregateid = c.aggregateid
      AND e.position < c.position
      AND NOT EXISTS (SELECT 1 FROM claimed x WHERE x.position = e.position)
)
ORDER BY o.position
"""


class PostgresOutbox:
    def __init__(self, dsn: str) -> None:
        self._conn = psycopg.connect(dsn)
        self._listener = psycopg.connect(dsn, autocommit=True)
        self._listener.execute(f"LISTEN {NOTIFY_CHANNEL}")

    def claim(self, limit: int) -> list[OutboxRow]:
        rows = self._conn.execute(_PG_CLAIM, {"limit": limit}).fetchall()
        return [OutboxRow(*row) for row in rows]

    def mark_sent(self, positions: Sequence[int]) -> None:
        if positions:
            self._conn.execute(
                "UPDATE govbus_outbox SET sent_at = now() WHERE position = ANY(%s)",
                (list(positions),),
            )

    def mark_refused(self, refusals: Sequence[tuple[int, str]]) -> None:
        with self._conn.cursor() as cursor:
            cursor.executemany(
                "UPDATE govbus_outbox SET sent_at = now(), refused_code = %s WHERE position = %s",
                [(code, position) for position, code in refusals],
            )

    def commit(self) -> None:
        self._conn.commit()

    def rollback(self) -> None:
        self._conn.rollback()

    def wait(self, timeout: float) -> None:
        for _ in self._listener.notifies(timeout=timeout, stop_after=1):
            pass

    def close(self) -> None:
        self._conn.close()
        self._listener.close()


class SqliteOutbox:
    def __init__(self, path: str, poll_interval: float = 0.2) -> None:
        self._conn = sqlite3.connect(path, timeout=30)
        self._poll_interval = poll_interval

    def claim(self, limit: int) -> list[OutboxRow]:
        rows = self._conn.execute(
            "SELECT position, id, aggregatetype, aggregateid, payload FROM govbus_outbox "
            "WHERE sent_at IS NULL ORDER BY position LIMIT ?",
            (limit,),
        ).fetchall()
        return [OutboxRow(*row) for row in rows]

    def mark_sent(self, positions: Sequence[int]) -> None:
        self._conn.executemany(
            "UPDATE govbus_outbox SET sent_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
            "WHERE position = ?",
            [(p,) for p in positions],
        )

    def mark_refused(self, refusals: Sequence[tuple[int, str]]) -> None:
        self._conn.executemany(
            "UPDATE govbus_outbox SET sent_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), "
            "refused_code = ? WHERE position = ?",
            [(code, position) for position, code in refusals],
        )

    def commit(self) -> None:
        self._conn.commit()

    def rollback(self) -> None:
        self._conn.rollback()

    def wait(self, timeout: float) -> None:
        import time

        time.sleep(min(timeout, self._poll_interval))

    def close(self) -> None:
        self._conn.close()


def open_outbox(dsn: str) -> OutboxStore:
    """`postgresql://...` (or a libpq key=value string) or `sqlite:///path/to.db`."""
    if dsn.startswith("sqlite:///"):
        return SqliteOutbox(dsn.removeprefix("sqlite:///"))
    if dsn.startswith("sqlite://"):
        return SqliteOutbox(dsn.removeprefix("sqlite://"))
    return PostgresOutbox(dsn)


def connect(dsn: str) -> Any:
    """A plain connection of the right kind, for creating the table."""
    if dsn.startswith("sqlite://"):
        return sqlite3.connect(dsn.removeprefix("sqlite:///").removeprefix("sqlite://"))
    return psycopg.connect(dsn)
