"""PostgreSQL: the processed event ids (dedup), claimed per batch and pruned by claim time."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import psycopg

from govbus.consumers._store import epoch_us

_COPY_IDS = "COPY processed_events (event_id, processed_at) FROM STDIN (FORMAT BINARY)"
_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
"""Binary COPY: signature, flags, header extension length."""
_BINARY_ID = b"\x00\x02\x00\x00\x00\x10"
"""Before each id: two fields, the first of 16 bytes (the uuid)."""
_BINARY_AT = b"\x00\x00\x00\x08"
"""Before the claim time: 8 bytes (timestamptz, µs since 2000-01-01)."""
_BINARY_TRAILER = b"\xff\xff"
_PG_EPOCH_US = 946_684_800_000_000
"""2000-01-01 in µs since 1970-01-01: where binary timestamptz counts from."""


def _binary_ids(event_ids: Collection[int], at: datetime) -> bytes:
    """The ids and their claim time as a binary COPY stream, built in one join."""
    claimed = _BINARY_AT + (epoch_us(at) - _PG_EPOCH_US).to_bytes(8, "big", signed=True)
    ids = (claimed + _BINARY_ID).join(i.to_bytes(16, "big") for i in event_ids)
    return b"".join((_BINARY_HEADER, _BINARY_ID, ids, claimed, _BINARY_TRAILER))


def claim_event_ids(
    conn: psycopg.Connection[Any],
    cur: psycopg.Cursor[Any],
    event_ids: Collection[int],
    at: datetime,
) -> set[int]:
    """Record the ids as processed at `at`; return those recorded before."""
    # In the usual batch no id is known: COPY them straight into the table, in a
    # savepoint (COPY inserts in bulk, ≈ 1.8 µs an id against ≈ 2.6 for INSERT … SELECT
    # and more with ON CONFLICT). A known id (or one a concurrent transaction committed
    # meanwhile) fails it as a whole; then the ids are inserted with ON CONFLICT, and
    # the known ones are those not inserted: recorded before, by another transaction or
    # by an earlier part of this one (a batch split by `govbus.consumers._refusals`).
    try:
        with conn.transaction(), cur.copy(_COPY_IDS) as copy:
            copy.write(_binary_ids(event_ids, at))
    except psycopg.errors.UniqueViolation:
        pass
    else:
        return set()
    # Comma-joined text: far cheaper to adapt than a list of uuids.
    ids = ",".join(f"{i:032x}" for i in event_ids)
    cur.execute(
        "INSERT INTO processed_events (event_id, processed_at) "
        "SELECT unnest(string_to_array(%s, ','))::uuid, %s ON CONFLICT DO NOTHING "
        "RETURNING event_id",
        (ids, at),
    )
    inserted = {new.int for (new,) in cur.fetchall()}
    return {i for i in event_ids if i not in inserted}


def prune_processed(conn: psycopg.Connection[Any], before: datetime, limit: int) -> int:
    """Forget at most `limit` ids claimed before `before`, oldest first, by the claim-time
    index; its own short transaction (`conn` is in autocommit)."""
    cursor = conn.execute(
        "DELETE FROM processed_events WHERE event_id IN (SELECT event_id FROM "
        "processed_events WHERE processed_at < %s ORDER BY processed_at LIMIT %s)",
        (before, limit),
    )
    return cursor.rowcount
