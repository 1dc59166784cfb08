"""SQLite: hot keys' whole rows, read, folded in memory and written once
(`govbus.consumers._key_merge`); and the values as SQLite stores them."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from decimal import Decimal
from typing import Any

from govbus import EntityKind
from govbus.consumers._key_merge import (
    KeyEvent,
    fold,
    state_layout,
    state_select,
    state_upsert_sql,
)
from govbus.consumers._tables import ColumnType, columns


def to_db(value: Any, ctype: ColumnType) -> Any:
    """A value as SQLite keeps it: JSON as text, dates and decimals as their text."""
    if value is None:
        return None
    if ctype is ColumnType.JSON:
        return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    if isinstance(value, date | Decimal):
        return value.isoformat() if isinstance(value, date) else str(value)
    return value


def merge_records(
    conn: sqlite3.Connection, kind: EntityKind, hot: dict[str, list[KeyEvent]], at: str
) -> int:
    """Hot keys' rows read, folded in memory, written once (`govbus.consumers._key_merge`);
    the write transaction holds the database, so nothing changes them in between."""
    stored = {
        row[0]: row
        for row in conn.execute(
            state_select(kind) + "WHERE entity_key IN (SELECT value FROM json_each(?))",
            (json.dumps(list(hot)),),
        )
    }
    types = columns(kind)
    stale = 0
    rows = []
    for key, events in hot.items():
        row, key_stale = fold(kind, key, stored.get(key), events, at)
        stale += key_stale
        for i, ctype in enumerate(types.values(), 1):
            row[i] = to_db(row[i], ctype)
        rows.append(row)
    layout = state_layout(kind).columns
    values = f"VALUES ({', '.join('?' * len(layout))})"
    conn.executemany(state_upsert_sql(kind, values), rows)
    return stale
