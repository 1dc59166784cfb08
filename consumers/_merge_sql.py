"""The per-field merge as SQL: `INSERT … ON CONFLICT DO UPDATE` statements per batch and kind.

Each event is sent as one compact row: the key, the values of the fields it may set, its
sequence and stamp once. Rows that set the same fields, all from the key authority or all
not, have the same *shape* (`UpsertShape`); a shape's statement names only those fields,
so a row binds few parameters and the database evaluates and writes only what it can
change (binding parameters is most of an executemany's cost, and an upsert that names
every column of a wide row costs about twice as much on SQLite). The statement expands the
row's sequence and stamp into `<field>__seq` and `<field>__src` for each field. Rows of
shapes too rare in a batch to pay for their own statement go together into the *generic*
statement, which names every field and takes a bit mask of those a row sets (a field
outside the mask gets null candidates and is left untouched). On conflict each field takes
the candidate only if its sequence is greater than the stored one, so no read and no merge
in Python are needed, and a stale or reordered update never overwrites a newer value. All
SET expressions see the row as it was before the statement, on both backends.

Rows of one statement have distinct keys: they are the first event of each key of a batch
(a `MergeRound`); the keys with several events in the batch are merged in memory and
written once (`govbus.consumers._key_merge`). PostgreSQL reads the rows of a statement
from a temporary table filled by COPY (`rows_from` None), or, for a few rows, from
parameters, one statement per row, pipelined.

Stale fields are counted exactly: on SQLite by a function called only in the stale branch,
on PostgreSQL by a `_stale` count per row that the statement returns and sums.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, NamedTuple

from govbus import EntityKind
from govbus.consumers._tables import KEY_FIELD, RECORD_FIELD, TABLES, columns

MergeRow = list[Any]
"""One event as a merge row, in the column order of its layout (`upsert_layout`,
`DELETE_LAYOUT`); the backend fills in `updated_at`, the last column."""


@dataclass(slots=True)
class MergeRound:
    """Merge rows with distinct keys (a batch's first event of each key), by statement."""

    upserts: dict[UpsertShape, list[MergeRow]] = field(default_factory=dict)
    deletes: dict[tuple[str, ...], list[MergeRow]] = field(default_factory=dict)
    """By the key authority's fields (`_record` included), which the tombstone stamps."""


STALE_FUNCTION = "govbus_stale"
"""SQLite: a one-argument function returning its argument, counting the calls."""


def seq(name: str) -> str:
    return f"{name}__seq"


def src(name: str) -> str:
    return f"{name}__src"


class UpsertShape(NamedTuple):
    """What the upsert rows of a group set: the same fields, from the key authority or not.

    A named tuple: hashed per event, in C."""

    fields: tuple[str, ...]
    """In column order."""
    key_authority: bool


EVENT_COLUMNS = ("_seq", "_src")
"""In every merge row after the key and the values: the event's sequence and stamp."""

GENERIC_EXTRA = ("_mask", "_key_authority", "updated_at")
"""In a generic upsert row, after the event columns: the mask of the fields the row sets
(bit i: i-th column) and whether it comes from the key authority."""

DELETE_LAYOUT = ("entity_key", *EVENT_COLUMNS, "updated_at")
"""The columns of a tombstone row."""


@cache
def upsert_layout(kind: EntityKind, shape: UpsertShape | None) -> tuple[str, ...]:
    """The columns of an upsert row as sent (SQLite parameters, PostgreSQL COPY columns).

    `shape` None: the generic row, every value plus `GENERIC_EXTRA`.
    """
    if shape is None:
        return ("entity_key", *columns(kind), *EVENT_COLUMNS, *GENERIC_EXTRA)
    return ("entity_key", *shape.fields, *EVENT_COLUMNS, "updated_at")


def _refs(layout: tuple[str, ...], sqlite: bool) -> dict[str, str]:
    if sqlite:
        return {name: f"?{i + 1}" for i, name in enumerate(layout)}
    return {name: f"x.{name}" for name in layout}


def _source(
    table: str, targets: list[str], exprs: list[str], sqlite: bool, rows_from: str | None
) -> str:
    rows_from = rows_from or f"tmp_{table} x"
    values = ", ".join(exprs)
    source = f"VALUES ({values})" if sqlite else f"SELECT {values} FROM {rows_from} WHERE true"
    return (
        f"INSERT INTO {table} ({', '.join(targets)}) {source} "
        "ON CONFLICT (entity_key) DO UPDATE SET "
    )


def _upsert_insert(
    kind: EntityKind, shape: UpsertShape | None, sqlite: bool, rows_from: str | None
) -> str:
    """The INSERT part: the row a new record gets, and `excluded` for the update."""
    refs = _refs(upsert_layout(kind, shape), sqlite)
    s, stamp = refs["_seq"], refs["_src"]
    if shape is None:
        names: tuple[str, ...] = tuple(columns(kind))
        mask = refs["_mask"]
        seqs = [f"CASE WHEN {mask} & {1 << i} <> 0 THEN {s} END" for i in range(len(names))]
        srcs = [f"CASE WHEN {mask} & {1 << i} <> 0 THEN {stamp} END" for i in range(len(names))]
        key = refs["_key_authority"]
        keys = [f"CASE WHEN {key} THEN {s} END", f"CASE WHEN {key} THEN {stamp} END"]
    else:
        names = shape.fields
        seqs, srcs = [s] * len(names), [stamp] * len(names)
        keys = [s, stamp] if _restore_carrier(shape) == KEY_FIELD else []
    targets = ["entity_key", *names, *map(seq, names), *map(src, names)]
    exprs = [refs["entity_key"], *(refs[n] for n in names), *seqs, *srcs]
    if keys:  # `excluded._key__*`: a key-authority upsert's stamp, for the restore
        targets += [seq(KEY_FIELD), src(KEY_FIELD)]
        exprs += keys
    targets.append("updated_at")
    exprs.append(refs["updated_at"])
    return _source(TABLES[kind], targets, exprs, sqlite, rows_from)


def _restore_carrier(shape: UpsertShape | None) -> str:
    """The field whose `excluded` sequence and stamp are those of a key-authority upsert.

    In a shape that sets fields, any of them (they all carry the event's); otherwise `_key`,
    written for that purpose only. The stored `_key__*` columns are never read: the restore
    compares the upsert being merged with the tombstone, not with earlier upserts.
    """
    return shape.fields[0] if shape is not None and shape.fields else KEY_FIELD


def _newer(table: str, name: str) -> str:
    # A null candidate sequence (field not set) compares as null: the CASE keeps the row's.
    return f"excluded.{seq(name)} > coalesce({table}.{seq(name)}, -1)"


def _keep(table: str, column: str, sqlite: bool, stale_if: str | None) -> str:
    if sqlite and stale_if == "true":
        return f"ELSE {STALE_FUNCTION}({table}.{column})"
    if sqlite and stale_if:
        return f"WHEN {stale_if} THEN {STALE_FUNCTION}({table}.{column}) ELSE {table}.{column}"
    return f"ELSE {table}.{column}"


@cache
def upsert_sql(
    kind: EntityKind, dialect: str, shape: UpsertShape | None = None, rows_from: str | None = None
) -> str:
    """Upsert rows of a shape (None: generic rows): per field the newer sequence wins; a
    key-authority upsert newer than the delete restores a deleted record (its stamp becomes
    `_record`'s)."""
    sqlite = dialect == "sqlite"
    table = TABLES[kind]
    names = tuple(columns(kind)) if shape is None else shape.fields
    sets: list[str] = []
    conditions: list[str] = []
    for name in names:
        newer = _newer(table, name)
        conditions.append(newer)
        # In a shape every candidate is set: not newer means stale.
        stale_if = f"excluded.{seq(name)} IS NOT NULL" if shape is None else "true"
        sets.append(
            f"{name} = CASE WHEN {newer} THEN excluded.{name} "
            f"{_keep(table, name, sqlite, stale_if)} END"
        )
        for column in (seq(name), src(name)):
            sets.append(
                f"{column} = CASE WHEN {newer} THEN excluded.{column} ELSE {table}.{column} END"
            )
    if shape is None or shape.key_authority:
        carrier = _restore_carrier(shape)
        restore = (
            f"{table}.deleted AND excluded.{seq(carrier)} > "
            f"coalesce({table}.{seq(RECORD_FIELD)}, -1)"
        )
        conditions.append(restore)
        for target, source in (
            (seq(RECORD_FIELD), seq(carrier)),
            (src(RECORD_FIELD), src(carrier)),
        ):
            sets.append(
                f"{target} = CASE WHEN {restore} THEN excluded.{source} ELSE {table}.{target} END"
            )
        false = "0" if sqlite else "false"
        sets.append(f"deleted = CASE WHEN {restore} THEN {false} ELSE {table}.deleted END")
    if conditions:
        changed = " OR ".join(f"({c})" for c in conditions)
        sets.append(
            f"updated_at = CASE WHEN {changed} THEN excluded.updated_at ELSE {table}.updated_at END"
        )
    if not sqlite:  # counted in the row and returned (SQLite: the stale function)
        stale = " + ".join(
            f"CASE WHEN excluded.{seq(n)} <= coalesce({table}.{seq(n)}, -1) THEN 1 ELSE 0 END"
            for n in names
        )
        sets.append(f"_stale = {stale or '0'}")
    if not sets:  # nothing an existing record could take (no field, not the key authority)
        sets.append(f"updated_at = {table}.updated_at")
    statement = _upsert_insert(kind, shape, sqlite, rows_from) + ", ".join(sets)
    if sqlite:
        return statement
    return f"WITH u AS ({statement} RETURNING _stale) SELECT coalesce(sum(_stale), 0) FROM u"


@cache
def delete_sql(
    kind: EntityKind, own: Sequence[str], dialect: str, rows_from: str | None = None
) -> str:
    """Tombstones (`DELETE_LAYOUT` rows): applied only if newer than every field of the key
    authority (`own`, `_record` included); every value is cleared and `own` take the
    delete's stamp."""
    sqlite = dialect == "sqlite"
    table = TABLES[kind]
    refs = _refs(DELETE_LAYOUT, sqlite)
    targets = ["entity_key", *map(seq, own), *map(src, own), "deleted", "updated_at"]
    true = "1" if sqlite else "true"
    exprs = [
        refs["entity_key"],
        *[refs["_seq"]] * len(own),
        *[refs["_src"]] * len(own),
        true,
        refs["updated_at"],
    ]
    newest = ", ".join(f"coalesce({table}.{seq(n)}, -1)" for n in own)
    applies = f"excluded.{seq(RECORD_FIELD)} > {'max' if sqlite else 'greatest'}({newest}, -1)"
    sets = [f"{n} = CASE WHEN {applies} THEN NULL ELSE {table}.{n} END" for n in columns(kind)]
    for name in own:
        for column in (seq(name), src(name)):
            sets.append(
                f"{column} = CASE WHEN {applies} THEN excluded.{column} ELSE {table}.{column} END"
            )
    keep = _keep(table, "deleted", sqlite, "true")
    sets.append(f"deleted = CASE WHEN {applies} THEN {true} {keep} END")
    sets.append(
        f"updated_at = CASE WHEN {applies} THEN excluded.updated_at ELSE {table}.updated_at END"
    )
    if not sqlite:
        sets.append(f"_stale = CASE WHEN {applies} THEN 0 ELSE 1 END")
    statement = _source(table, targets, exprs, sqlite, rows_from) + ", ".join(sets)
    if sqlite:
        return statement
    return f"WITH u AS ({statement} RETURNING _stale) SELECT coalesce(sum(_stale), 0) FROM u"


@cache
def _generic_positions(kind: EntityKind, shape: UpsertShape) -> tuple[int, tuple[int, ...], int]:
    """Where a shape's values go in a generic row, and the shape's mask."""
    index = {name: i for i, name in enumerate(columns(kind))}
    positions = tuple(1 + index[name] for name in shape.fields)
    return len(index), positions, sum(1 << index[name] for name in shape.fields)


def generic_rows(kind: EntityKind, shape: UpsertShape, rows: Sequence[MergeRow]) -> list[MergeRow]:
    """A shape's rows in the generic layout (`upsert_layout(kind, None)`)."""
    width, positions, mask = _generic_positions(kind, shape)
    k = len(positions)
    out: list[MergeRow] = []
    for row in rows:
        generic: MergeRow = [None] * (width + 6)
        generic[0] = row[0]
        for j, p in enumerate(positions):
            generic[p] = row[1 + j]
        seq_, stamp, at = row[k + 1 :]
        generic[width + 1 :] = (seq_, stamp, mask, shape.key_authority, at)
        out.append(generic)
    return out


@cache
def record_sql(kind: EntityKind, placeholder: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """One record with its values, per-field sequences and sources, for queries.

    Returns the SELECT and the value and stamped field names; the row is `deleted,
    updated_at, holder_known (NULL unless a certificate), values..., seqs..., srcs...`.
    """
    return records_sql(kind, f"= {placeholder}", keyed=False)


def records_sql(
    kind: EntityKind, match: str, *, keyed: bool = True
) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """`record_sql` for the keys `match` selects (`entity_key <match>`, e.g. `= ANY(%s)`);
    `keyed`: each row starts with its `entity_key`, then `record_sql`'s columns."""
    names = tuple(columns(kind))
    stamped = (*names, RECORD_FIELD)
    holder = "holder_known" if kind is EntityKind.CERTIFICATE else "NULL"
    sql = (
        f"SELECT {'entity_key, ' if keyed else ''}deleted, updated_at, {holder}, "
        f"{', '.join(names)}, "
        f"{', '.join(seq(n) for n in stamped)}, {', '.join(src(n) for n in stamped)} "
        f"FROM {TABLES[kind]} WHERE entity_key {match}"
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
