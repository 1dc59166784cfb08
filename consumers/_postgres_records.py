"""PostgreSQL: hot keys' whole rows, read locked and written once (`govbus.consumers._key_merge`).

The rows are read `FOR UPDATE` in key order (a concurrent instance touching the same keys
waits, or the deadlock is a `StoreConflict` and the batch runs again), folded in memory,
and written back in one statement: from a temporary table filled by COPY when there are
many, else from parameters, pipelined.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import cache
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from govbus import EntityKind
from govbus.consumers._key_merge import (
    KeyEvent,
    fold,
    state_layout,
    state_select,
    state_upsert_sql,
)
from govbus.consumers._native_rows import copy_rows
from govbus.consumers._tables import TABLES, ColumnType, columns

CUSTOM_PLAN = False
"""For `= ANY(keys)` lookups: psycopg prepares a statement after 5 runs, and PostgreSQL then
keeps a generic plan made while the table was small (a sequential scan): 50 ms per
lookup at 20k rows, before any autovacuum analyze. Unprepared, each run is planned for the
table as it is (an index scan); planning costs ≈ 0.2 ms per batch."""

PG_TYPES = {
    ColumnType.TEXT: "text",
    ColumnType.DATE: "date",
    ColumnType.NUMERIC: "numeric",
    ColumnType.JSON: "jsonb",
}


def any_key(keys: Collection[str]) -> tuple[str, Any]:
    """`= ANY(…)` of keys: one text joined by the unit separator, far cheaper to adapt than
    a list of thousands of strings; a list only if a key holds the separator itself."""
    joined = "\x1f".join(keys)
    if joined.count("\x1f") == len(keys) - 1:
        return "ANY(string_to_array(%s, chr(31)))", joined
    return "ANY(%s)", list(keys)


def state_table(kind: EntityKind) -> str:
    return f"tmp_state_{TABLES[kind]}"


@cache
def state_types(kind: EntityKind) -> list[str]:
    """The PostgreSQL types of a whole row (`state_layout`)."""
    n = state_layout(kind).values
    values = [PG_TYPES[t] for t in columns(kind).values()]
    return ["text", *values, *["bigint"] * (n + 1), *["text"] * (n + 1), "boolean", "timestamptz"]


def state_table_ddl(kind: EntityKind) -> str:
    typed = ", ".join(
        f"{n} {t}" for n, t in zip(state_layout(kind).columns, state_types(kind), strict=True)
    )
    return f"CREATE TEMP TABLE IF NOT EXISTS {state_table(kind)} ({typed}) ON COMMIT DELETE ROWS"


@cache
def _from_params(kind: EntityKind) -> str:
    return "VALUES (" + ", ".join(f"%s::{t}" for t in state_types(kind)) + ")"


@cache
def _from_table(kind: EntityKind) -> str:
    return f"SELECT {', '.join(state_layout(kind).columns)} FROM {state_table(kind)} WHERE true"


def merge_records(
    conn: psycopg.Connection[Any],
    kind: EntityKind,
    hot: dict[str, list[KeyEvent]],
    at: Any,
    *,
    native: bool,
    filled: set[str],
    copy_from: int,
) -> int:
    """Fold the hot keys' events into their rows and write each once; the stale fields.
    `filled`: the writer's temporary tables that may hold rows (emptied before a COPY);
    `copy_from`: how many rows make a COPY worth it."""
    match, param = any_key(sorted(hot))
    with conn.cursor() as cur:
        cur.execute(
            state_select(kind) + f"WHERE entity_key = {match} ORDER BY entity_key FOR UPDATE",
            (param,),
            prepare=CUSTOM_PLAN,
        )
        stored = {row[0]: row for row in cur.fetchall()}
        json_positions = [
            i for i, t in enumerate(columns(kind).values(), 1) if t is ColumnType.JSON
        ]
        stale = 0
        rows = []
        for key, events in hot.items():
            row, key_stale = fold(kind, key, stored.get(key), events, at)
            stale += key_stale
            for i in json_positions:
                if row[i] is not None:
                    row[i] = Jsonb(row[i])
            rows.append(row)
        if len(rows) < copy_from:
            cur.executemany(state_upsert_sql(kind, _from_params(kind)), rows)
            return stale
        table = state_table(kind)
        if table in filled:
            cur.execute(f"TRUNCATE {table}")
        filled.add(table)
        types = state_types(kind)
        payload = copy_rows(rows, types, native=native)  # None: psycopg encodes them
        with cur.copy(
            f"COPY {table} ({', '.join(state_layout(kind).columns)}) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            if payload is not None:
                copy.write(payload)
            else:
                copy.set_types(types)
                for row in rows:
                    copy.write_row(row)
        cur.execute(state_upsert_sql(kind, _from_table(kind)))
    return stale
