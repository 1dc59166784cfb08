"""Reading and marking outbox rows, for PostgreSQL and SQLite.

PostgreSQL, several relays side by side: `claim` locks a batch of unsent rows with
`FOR UPDATE SKIP LOCKED` and, in the same statement, keeps only the rows whose aggregate
has no earlier unsent row outside the batch (other than the relay's own in-flight rows). A row
locked by another relay (or skipped) therefore holds back every later row of its
aggregate until it is marked sent, so an aggregate's rows reach the broker in order
whichever relay sends them; different aggregates proceed in parallel. Locks are held
until the batch's marks commit; a crashed relay's locks vanish with its connection and
its rows are sent again (at-least-once).

Applications must write the outbox row after the business change it describes, in the
same transaction: the business row's lock then orders concurrent writers of one
aggregate, so positions are committed in order.

SQLite has no row locks: run one relay per database file; it polls.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

import psycopg

from govbus.producers._outbox_tables import NOTIFY_CHANNEL


class OutboxRow(NamedTuple):
    """One claimed row (a tuple: thousands are built per batch)."""

    position: int
    event_id: str
    aggregatetype: str
    aggregateid: str
    payload: str


class OutboxStore(Protocol):
    def claim(self, limit: int, in_flight: Sequence[int] = ()) -> list[OutboxRow]:
        """Start a transaction and return the next unsent rows this relay may publish.

        `in_flight`: positions this relay claimed on its other session and is publishing
        first; they do not hold back later rows of their aggregates.
        """
        ...

    def second_session(self) -> OutboxStore | None:
        """Another session on the same database for pipelined claims, or None."""
        ...

    def mark_sent(self, positions: Sequence[int]) -> None: ...

    def mark_refused(self, refusals: Sequence[tuple[int, str]]) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def wait(self, timeout: float) -> None:
        """Block until new rows may exist or `timeout` passes."""
        ...

    def close(self) -> None: ...


# One statement: lock the next unsent rows (skipping rows other relays hold), then keep
# those whose aggregate has no earlier unsent row outside the claim. Such a row is locked
# by another relay, or by this relay's in-flight batch but not part of it; the relay's own
# in-flight rows (`in_flight`, produced before this claim's rows) do not hold anything back.
# Every row that can hold a claimed row back lies at or below the last claimed position,
# so one range scan of the unsent index finds them all.
_PG_CLAIM = """
WITH claimed AS MATERIALIZED (
    SELECT position, id, aggregatetype, aggregateid, payload
    FROM govbus_outbox
    WHERE sent_at IS NULL
    ORDER BY position
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
),
blocked AS (
    SELECT aggregateid, min(position) AS from_position
    FROM govbus_outbox
    WHERE sent_at IS NULL
      AND position <= (SELECT max(position) FROM claimed)
      AND position NOT IN (SELECT position FROM claimed)
      AND position NOT IN (SELECT unnest(%(in_flight)s::bigint[]))
    GROUP BY aggregateid
)
SELECT c.position, c.id::text, c.aggregatetype, c.aggregateid, c.payload::text
FROM claimed c LEFT JOIN blocked b USING (aggregateid)
WHERE b.from_position IS NULL OR c.position < b.from_position
ORDER BY c.position
"""


class PostgresOutbox:
    def __init__(self, dsn: str, *, listen: bool = True) -> None:
        self._dsn = dsn
        self._conn = psycopg.connect(dsn)
        # The claim must walk the unsent index in position order. Without fresh statistics
        # (a new table, or a backlog after mostly-sent history) the planner takes a bitmap
        # scan and sorts every unsent row per claim instead. This connection runs only the
        # relay's statements, all of them lookups by position.
        self._conn.execute("SET enable_bitmapscan = off")
        self._conn.commit()
        self._listener = psycopg.connect(dsn, autocommit=True) if listen else None
        if self._listener is not None:
            self._listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
        self._second: PostgresOutbox | None = None

    def claim(self, limit: int, in_flight: Sequence[int] = ()) -> list[OutboxRow]:
        cursor = self._conn.execute(
            _PG_CLAIM, {"limit": limit, "in_flight": list(in_flight)}, prepare=True
        )
        return list(map(OutboxRow._make, cursor))

    def second_session(self) -> PostgresOutbox:
        """A second connection, so the next batch is claimed while this one is in flight."""
        if self._second is None:
            self._second = PostgresOutbox(self._dsn, listen=False)
        return self._second

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
        if self._listener is None:
            raise RuntimeError("this session does not listen")
        for _ in self._listener.notifies(timeout=timeout, stop_after=1):
            pass

    def close(self) -> None:
        self._conn.close()
        if self._listener is not None:
            self._listener.close()
        if self._second is not None:
            self._second.close()


class SqliteOutbox:
    def __init__(self, path: str, poll_interval: float = 0.2) -> None:
        self._conn = sqlite3.connect(path, timeout=30)
        self._poll_interval = poll_interval

    def claim(self, limit: int, in_flight: Sequence[int] = ()) -> list[OutboxRow]:
        if in_flight:
            raise ValueError("SQLite relays one batch at a time")
        rows = self._conn.execute(
            "SELECT position, id, aggregatetype, aggregateid, payload FROM govbus_outbox "
            "WHERE sent_at IS NULL ORDER BY position LIMIT ?",
            (limit,),
        ).fetchall()
        return [OutboxRow(*row) for row in rows]

    def second_session(self) -> None:
        return None

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
