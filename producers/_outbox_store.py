"""Reading and marking outbox rows, for PostgreSQL and SQLite.

PostgreSQL, several relays side by side: `claim` locks a batch of unsent rows with
`FOR UPDATE SKIP LOCKED`, then (one indexed query, filtered in Python in linear time)
keeps only the rows whose aggregate has no earlier unsent row outside the batch. A row
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

from producers._outbox_tables import NOTIFY_CHANNEL


class OutboxRow(NamedTuple):
    """One claimed row (a tuple: thousands are built per batch)."""

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
SELECT position, id::text, aggregatetype, aggregateid, payload::text
FROM govbus_outbox
WHERE sent_at IS NULL
ORDER BY position
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED
"""
# Unsent rows of the claimed aggregates up to the last claimed position: the claimed rows
# plus any row that must go first (locked by another relay, or skipped).
_PG_EARLIER_UNSENT = """
SELECT aggregateid, position FROM govbus_outbox
WHERE sent_at IS NULL AND aggregateid = ANY(%(aggregates)s) AND position <= %(last)s
ORDER BY aggregateid, position
"""


def publishable(claimed: list[OutboxRow], unsent: list[tuple[str, int]]) -> list[OutboxRow]:
    """The claimed rows with no unclaimed unsent row of their aggregate before them."""
    claimed_positions = {row.position for row in claimed}
    blocked_from: dict[str, int] = {}
    for aggregate, position in unsent:  # ordered by aggregate, position
        if position not in claimed_positions and aggregate not in blocked_from:
            blocked_from[aggregate] = position
    return [
        row for row in claimed if row.position < blocked_from.get(row.aggregateid, row.position + 1)
    ]


class PostgresOutbox:
    def __init__(self, dsn: str) -> None:
        self._conn = psycopg.connect(dsn)
        self._listener = psycopg.connect(dsn, autocommit=True)
        self._listener.execute(f"LISTEN {NOTIFY_CHANNEL}")

    def claim(self, limit: int) -> list[OutboxRow]:
        claimed = list(map(OutboxRow._make, self._conn.execute(_PG_CLAIM, {"limit": limit})))
        if not claimed:
            return []
        unsent = self._conn.execute(
            _PG_EARLIER_UNSENT,
            {
                "aggregates": list({row.aggregateid for row in claimed}),
                "last": claimed[-1].position,
            },
        ).fetchall()
        return publishable(claimed, unsent)

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
