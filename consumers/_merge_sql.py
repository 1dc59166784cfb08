"""The per-field merge as SQL: one `INSERT … ON CONFLICT DO UPDATE` per batch and kind.

Each event is sent as one compact row (`row_layout`): the key, the candidate values, the
event's sequence and stamp once, and a bit mask of the fields it may set; the statement
expands that into `<field>__seq` and `<field>__src` (null for a field the event does not or
may not set, which is then left untouched). Few parameters per row: binding them is most
of the cost of an executemany. On conflict each field takes the candidate only
if its sequence is greater than the stored one, so no read and no merge in Python are
needed, and a stale or reordered update never overwrites a newer value. All SET expressions
see the row as it was before the statement, on both backends.

Rows of one statement have distinct keys; `apply_batch` sends the second event of a key in a
second statement (a "round"), so events of one key apply in arrival order. PostgreSQL reads
the rows of a statement from a temporary table filled by COPY (`rows_from` None), or, for
the small later rounds of a hot key, from parameters, one statement per row, pipelined.

Stale fields are counted exactly: on SQLite by a function called only in the stale branch,
on PostgreSQL by a `_stale` count per row that the statement returns and sums.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from consumers._tables import KEY_FIELD, RECORD_FIELD, TABLES, columns
from govbus import EntityKind

STALE_FUNCTION = "govbus_stale"
"""SQLite: a one-argument function returning its argument, counting the calls."""


def seq(name: str) -> str:
    return f"{name}__seq"


def src(name: str) -> str:
    return f"{name}__src"


@cache
def layout(kind: EntityKind) -> tuple[str, ...]:
    """The columns of an entity table the merge writes, in order."""
    names = tuple(columns(kind))
    return (
        "entity_key",
        *names,
        *(seq(n) for n in names),
        *(src(n) for n in names),
        seq(RECORD_FIELD),
        src(RECORD_FIELD),
        seq(KEY_FIELD),
        src(KEY_FIELD),
        "deleted",
        "updated_at",
        "_stale",
    )


ROW_EXTRA = ("_seq", "_src", "_mask", "_key_authority", "deleted", "updated_at")
"""After the key and the values, in a merge row: the event's sequence and stamp, the mask
of the fields it sets (bit i: i-th column), whether it comes from the key authority, the
deleted flag and the batch time."""


@cache
def row_layout(kind: EntityKind) -> tuple[str, ...]:
    """The columns of a merge row as sent (SQLite parameters, PostgreSQL COPY columns)."""
    return ("entity_key", *columns(kind), *ROW_EXTRA)


def _expanded(kind: EntityKind, sqlite: bool, delete: bool) -> list[str]:
    """SQL for each `layout` column, from a merge row's columns."""
    names = row_layout(kind)
    if sqlite:
        refs = {name: f"?{i + 1}" for i, name in enumerate(names)}
    else:
        refs = {name: f"x.{name}" for name in names}
    s, stamp, mask = refs["_seq"], refs["_src"], refs["_mask"]
    exprs = [refs["entity_key"], *(refs[n] for n in columns(kind))]
    for column in (s, stamp):
        for i in range(len(columns(kind))):
            exprs.append(f"CASE WHEN {mask} & {1 << i} <> 0 THEN {column} END")
    null = "NULL" if sqlite else "NULL::bigint"
    null_text = "NULL" if sqlite else "NULL::text"
    key = refs["_key_authority"]
    if delete:  # `_record` takes the delete's stamp
        exprs += [s, stamp, null, null_text]
    else:  # `_key` takes a key-authority upsert's stamp
        exprs += [null, null_text, f"CASE WHEN {key} THEN {s} END"]
        exprs.append(f"CASE WHEN {key} THEN {stamp} END")
    exprs += [refs["deleted"], refs["updated_at"], "0"]
    return exprs


def _newer(table: str, name: str) -> str:
    # A null candidate sequence (field not set) compares as null: the CASE keeps the row's.
    return f"excluded.{seq(name)} > coalesce({table}.{seq(name)}, -1)"


def _keep(table: str, column: str, sqlite: bool, stale_if: str | None) -> str:
    if sqlite and stale_if:
        return f"WHEN {stale_if} THEN {STALE_FUNCTION}({table}.{column}) ELSE {table}.{column}"
    return f"ELSE {table}.{column}"


def _insert(kind: EntityKind, sqlite: bool, delete: bool, rows_from: str | None) -> str:
    table = TABLES[kind]
    exprs = ", ".join(_expanded(kind, sqlite, delete))
    rows_from = rows_from or f"tmp_{table} x"
    source = f"VALUES ({exprs})" if sqlite else f"SELECT {exprs} FROM {rows_from} WHERE true"
    return (
        f"INSERT INTO {table} ({', '.join(layout(kind))}) {source} "
        "ON CONFLICT (entity_key) DO UPDATE SET "
    )


@cache
def upsert_sql(kind: EntityKind, dialect: str, rows_from: str | None = None) -> str:
    """Upsert rows: per field the newer sequence wins; a key-authority upsert newer than the
    delete restores a deleted record (its stamp becomes `_record`'s)."""
    sqlite = dialect == "sqlite"
    table = TABLES[kind]
    sets: list[str] = []
    conditions: list[str] = []
    for name in columns(kind):
        newer = _newer(table, name)
        conditions.append(newer)
        stale_if = f"excluded.{seq(name)} IS NOT NULL"
        sets.append(
            f"{name} = CASE WHEN {newer} THEN excluded.{name} "
            f"{_keep(table, name, sqlite, stale_if)} END"
        )
        for column in (seq(name), src(name)):
            sets.append(
                f"{column} = CASE WHEN {newer} THEN excluded.{column} ELSE {table}.{column} END"
            )
    restore = (
        f"{table}.deleted AND excluded.{seq(KEY_FIELD)} > coalesce({table}.{seq(RECORD_FIELD)}, -1)"
    )
    conditions.append(restore)
    for target, source in (
        (seq(RECORD_FIELD), seq(KEY_FIELD)),
        (src(RECORD_FIELD), src(KEY_FIELD)),
    ):
        sets.append(
            f"{target} = CASE WHEN {restore} THEN excluded.{source} ELSE {table}.{target} END"
        )
    key_newer = _newer(table, KEY_FIELD)
    for column in (seq(KEY_FIELD), src(KEY_FIELD)):
        sets.append(
            f"{column} = CASE WHEN {key_newer} THEN excluded.{column} ELSE {table}.{column} END"
        )
    false = "0" if sqlite else "false"
    sets.append(f"deleted = CASE WHEN {restore} THEN {false} ELSE {table}.deleted END")
    changed = " OR ".join(f"({c})" for c in conditions)
    sets.append(
        f"updated_at = CASE WHEN {changed} THEN excluded.updated_at ELSE {table}.updated_at END"
    )
    if not sqlite:  # counted in the row and returned (SQLite: the stale function)
        stale = " + ".join(
            f"CASE WHEN excluded.{seq(n)} <= coalesce({table}.{seq(n)}, -1) THEN 1 ELSE 0 END"
            for n in columns(kind)
        )
        sets.append(f"_stale = {stale}")
    statement = _insert(kind, sqlite, False, rows_from) + ", ".join(sets)
    if sqlite:
        return statement
    return f"WITH u AS ({statement} RETURNING _stale) SELECT coalesce(sum(_stale), 0) FROM u"


@cache
def delete_sql(
    kind: EntityKind, own: Sequence[str], dialect: str, rows_from: str | None = None
) -> str:
    """Tombstones: applied only if newer than every field of the key authority (`own`,
    `_record` included); every value is cleared and `own` take the delete's stamp."""
    sqlite = dialect == "sqlite"
    table = TABLES[kind]
    newest = ", ".join(f"coalesce({table}.{seq(n)}, -1)" for n in own)
    applies = f"excluded.{seq(RECORD_FIELD)} > {'max' if sqlite else 'greatest'}({newest}, -1)"
    sets = [f"{n} = CASE WHEN {applies} THEN NULL ELSE {table}.{n} END" for n in columns(kind)]
    for name in own:
        for column in (seq(name), src(name)):
            sets.append(
                f"{column} = CASE WHEN {applies} THEN excluded.{column} ELSE {table}.{column} END"
            )
    true = "1" if sqlite else "true"
    keep = _keep(table, "deleted", sqlite, "true")
    sets.append(f"deleted = CASE WHEN {applies} THEN {true} {keep} END")
    sets.append(
        f"updated_at = CASE WHEN {applies} THEN excluded.updated_at ELSE {table}.updated_at END"
    )
    if not sqlite:
        sets.append(f"_stale = CASE WHEN {applies} THEN 0 ELSE 1 END")
    statement = _insert(kind, sqlite, True, rows_from) + ", ".join(sets)
    if sqlite:
        return statement
    return f"WITH u AS ({statement} RETURNING _stale) SELECT coalesce(sum(_stale), 0) FROM u"


@cache
def record_sql(kind: EntityKind, placeholder: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """One record with its values, per-field sequences and sources, for queries.

    Returns the SELECT and the value and stamped field names; the row is `deleted,
    updated_at, holder_known (NULL unless a certificate), values..., seqs..., srcs...`.
    """
    names = tuple(columns(kind))
    stamped = (*names, RECORD_FIELD)
    holder = "holder_known" if kind is EntityKind.CERTIFICATE else "NULL"
    sql = (
        f"SELECT deleted, updated_at, {holder}, {', '.join(names)}, "
        f"{', '.join(seq(n) for n in stamped)}, {', '.join(src(n) for n in stamped)} "
        f"FROM {TABLES[kind]} WHERE entity_key = {placeholder}"
    )
    return sql, names, stamped


_HOLDER_TABLES = {EntityKind.PERSON: "persons", EntityKind.LEGAL_ENTITY: "legal_entities"}


@cache
def holder_known_update(false: str) -> str:
    """`UPDATE certificates SET holder_known = …` for a WHERE clause to follow.

    `false` is the dialect's false literal (`false` on PostgreSQL, `0` on SQLite).
    """
    known = " ".join(
        f"WHEN '{kind}' THEN EXISTS (SELECT 1 FROM {table} h "
        "WHERE h.entity_key = certificates.holder_id AND NOT h.deleted)"
        for kind, table in _HOLDER_TABLES.items()
    )
    return f"UPDATE certificates SET holder_known = CASE holder_type {known} ELSE {false} END "
