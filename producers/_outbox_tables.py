"""The `govbus_outbox` table (Debezium's outbox convention) and the application's writer.

The application only INSERTs, inside its own transaction. The relay alone sets `sent_at`
(after the broker's acknowledgement) or `refused_code` (an event that can never pass the
checks), so the table is the department's audit trail of everything it published.
`position` orders the rows; the relay publishes each aggregate's rows in that order.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from govbus import ChangeEvent, event_type

OUTBOX_TABLE = "govbus_outbox"
NOTIFY_CHANNEL = "govbus_outbox"

POSTGRES_DDL = """
CREATE TABLE IF NOT EXISTS govbus_outbox (
    position      bigserial PRIMARY KEY,
    id            uuid NOT NULL UNIQUE,
    aggregatetype text NOT NULL,
    aggregateid   text NOT NULL,
    type          text NOT NULL,
    payload       jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz,
    refused_code  text
);
CREATE INDEX IF NOT EXISTS govbus_outbox_unsent
    ON govbus_outbox (position) WHERE sent_at IS NULL;
CREATE INDEX IF NOT EXISTS govbus_outbox_unsent_by_aggregate
    ON govbus_outbox (aggregateid, position) WHERE sent_at IS NULL;
CREATE OR REPLACE FUNCTION govbus_outbox_notify() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('govbus_outbox', '');
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS govbus_outbox_notify ON govbus_outbox;
CREATE TRIGGER govbus_outbox_notify AFTER INSERT ON govbus_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION govbus_outbox_notify();
"""

SQLITE_DDL = """
CREATE TABLE IF NOT EXISTS govbus_outbox (
    position      INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    aggregatetype TEXT NOT NULL,
    aggregateid   TEXT NOT NULL,
    type          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    sent_at       TEXT,
    refused_code  TEXT
);
CREATE INDEX IF NOT EXISTS govbus_outbox_unsent
    ON govbus_outbox (position) WHERE sent_at IS NULL;
"""

_INSERT = (
    "INSERT INTO govbus_outbox (id, aggregatetype, aggregateid, type, payload) "
    "VALUES ({p}, {p}, {p}, {p}, {payload})"
)


def is_sqlite(conn: Any) -> bool:
    return isinstance(conn, sqlite3.Connection)


def create_outbox_table(conn: Any) -> None:
    """Create the table (and, on PostgreSQL, its NOTIFY trigger) if missing; no commit."""
    if is_sqlite(conn):
        for statement in SQLITE_DDL.split(";"):
            if statement.strip():
                conn.execute(statement)
    else:
        conn.execute(POSTGRES_DDL)


def outbox_row(event: ChangeEvent[Any]) -> tuple[str, str, str, str, str]:
    """(id, aggregatetype, aggregateid, type, payload) for one change event."""
    return (
        str(event.event_id),
        str(event.entity),
        event.entity_key,
        event_type(str(event.entity)),
        event.model_dump_json(),
    )


def write_outbox_event(conn: Any, event: ChangeEvent[Any]) -> None:
    """Insert `event` into the outbox in the caller's open transaction (no commit).

    `conn` is a psycopg or sqlite3 connection. Checks run in the relay, which records a
    refusal code on rows that can never be published.
    """
    if is_sqlite(conn):
        conn.execute(_INSERT.format(p="?", payload="?"), outbox_row(event))
    else:
        conn.execute(_INSERT.format(p="%s", payload="%s::jsonb"), outbox_row(event))
