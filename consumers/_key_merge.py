"""Hot keys: the events of a key that comes more than once in a batch, merged in memory.

The merge statements (`govbus.consumers._merge_sql`) take one row per key: a key's k-th
event of a batch would need a k-th statement ("round"), and 1000 updates of one key cost
1000 statements. Instead, a key with more than one event in the batch is *hot*: its stored
row is read (locked: PostgreSQL `FOR UPDATE`; SQLite's write transaction holds the whole
database), its events are folded into it here, one by one in arrival order, with the rules
of the reference model (`govbus.consumers.testing.ReferenceModel`), and the result is
written once, as a whole row. Keys with one event keep the merge statements.

The rules, per event (the authority check and event-id dedup happened before, in
`apply_batch`): an upsert sets each field it carries whose stored sequence is lower (else
the field is stale), and a key-authority upsert newer than `_record` restores a deleted
record; a delete newer than every field of the key authority (and `_record`) clears every
value, stamps those fields, and marks the record deleted (else it is stale). The stale
count, values, sequences and stamps are exactly what the statements give one event at a
time (`tests/consumers/test_hot_keys.py`, `tests/consumers/test_merge_shapes.py`).

What the database judges: only what is written. A value that loses to a newer one in the
same batch, or is stale against the stored row, is never sent, so a site rule in the
database (a CHECK, a trigger) never sees it. (A key's single event of a batch goes to the
merge statement whatever its sequence, and the database may judge that candidate row even
when the sequence then keeps the stored values.) Every event is judged before the store by
the sync's own checks (NUL and other unstorable text, identifiers, the schema), the same
for every event whatever the batch; a refusal by the database can only concern a value
that is sent to it.

When the database refuses a batch, `govbus.consumers._refusals` isolates the event whose
write it refuses; that whole event is dead-lettered, and the rest is merged again without
it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, NamedTuple

from govbus import EntityKind
from govbus.consumers._merge_sql import MergeRound, MergeRow, seq, src
from govbus.consumers._tables import RECORD_FIELD, TABLES, columns


@dataclass(frozen=True, slots=True)
class StateLayout:
    """A whole row as read and written for hot keys: key, values, the `__seq` and `__src`
    of every field and `_record`, deleted, updated_at."""

    columns: tuple[str, ...]
    values: int
    """How many value columns (the stamped names are those and `_record`)."""
    index: dict[str, int]
    """Stamped name → its position among the stamped names."""

    @property
    def record(self) -> int:
        return self.values  # `_record` comes after the fields


@cache
def state_layout(kind: EntityKind) -> StateLayout:
    names = tuple(columns(kind))
    stamped = (*names, RECORD_FIELD)
    return StateLayout(
        columns=(
            "entity_key",
            *names,
            *map(seq, stamped),
            *map(src, stamped),
            "deleted",
            "updated_at",
        ),
        values=len(names),
        index={name: i for i, name in enumerate(stamped)},
    )


@cache
def state_select(kind: EntityKind) -> str:
    """The SELECT of whole rows; the backend appends its `WHERE entity_key …` and lock."""
    return f"SELECT {', '.join(state_layout(kind).columns)} FROM {TABLES[kind]} "


@cache
def state_upsert_sql(kind: EntityKind, source: str) -> str:
    """Write whole rows from `source` (`VALUES (…)` or `SELECT … FROM tmp`)."""
    names = state_layout(kind).columns
    sets = ", ".join(f"{n} = excluded.{n}" for n in names[1:])
    return (
        f"INSERT INTO {TABLES[kind]} ({', '.join(names)}) {source} "
        f"ON CONFLICT (entity_key) DO UPDATE SET {sets}"
    )


class KeyEvent(NamedTuple):
    """One event of a hot key, from its merge row."""

    fields: tuple[int, ...] | None
    """The stamped positions of the fields it sets; None: a delete."""
    values: Sequence[Any]
    stamps: tuple[int, ...]
    """A delete: the stamped positions it stamps (the key authority's fields, `_record`)."""
    key_authority: bool
    sequence: int
    stamp: str


def split_hot_keys(
    kind: EntityKind, first: MergeRound, later: dict[str, list[KeyEvent]]
) -> tuple[MergeRound, dict[str, list[KeyEvent]]]:
    """The first-event rows of keys with one event, and every event of the others by key,
    in arrival order (their first event taken out of `first`)."""
    if not later:
        return first, {}
    hot: dict[str, list[KeyEvent]] = {key: [] for key in later}
    index = state_layout(kind).index
    cold = MergeRound()
    for shape, rows in first.upserts.items():
        fields = tuple(index[name] for name in shape.fields)
        k = len(fields)
        kept: list[MergeRow] = []
        for row in rows:
            events = hot.get(row[0])
            if events is None:
                kept.append(row)
            else:
                values = row[1 : k + 1]
                authority = shape.key_authority
                events.append(KeyEvent(fields, values, (), authority, row[k + 1], row[k + 2]))
        if kept:
            cold.upserts[shape] = kept
    for own, rows in first.deletes.items():
        stamps = tuple(index[name] for name in own)
        kept = []
        for row in rows:
            events = hot.get(row[0])
            if events is None:
                kept.append(row)
            else:
                events.append(KeyEvent(None, (), stamps, True, row[1], row[2]))
        if kept:
            cold.deletes[own] = kept
    for key, events in hot.items():
        events += later[key]
    return cold, hot


def fold(
    kind: EntityKind, key: str, stored: Sequence[Any] | None, events: list[KeyEvent], at: Any
) -> tuple[list[Any], int]:
    """The key's row after its events (`stored`: its row before, None if it has none) and
    the number of stale fields; `at` is the backend's updated-at for a changed row."""
    layout = state_layout(kind)
    n = layout.values
    seqs, srcs = 1 + n, 2 + 2 * n  # where the stamped columns start
    record = layout.record
    changed = stored is None
    row: list[Any] = [key, *[None] * (3 * n + 2), False, at] if stored is None else list(stored)
    stale = 0
    for event in events:
        s = event.sequence
        if event.fields is None:  # a delete: newer than every field it stamps, or stale
            if all(s > _or_lowest(row[seqs + j]) for j in event.stamps):
                row[1 : n + 1] = [None] * n
                for j in event.stamps:
                    row[seqs + j], row[srcs + j] = s, event.stamp
                row[-2] = changed = True
            else:
                stale += 1
            continue
        for j, value in zip(event.fields, event.values, strict=True):
            if s > _or_lowest(row[seqs + j]):
                row[1 + j], row[seqs + j], row[srcs + j] = value, s, event.stamp
                changed = True
            else:
                stale += 1
        if event.key_authority and row[-2] and s > _or_lowest(row[seqs + record]):
            row[seqs + record], row[srcs + record] = s, event.stamp
            row[-2], changed = False, True
    if changed:
        row[-1] = at
    return row, stale


def _or_lowest(sequence: int | None) -> int:
    return -1 if sequence is None else sequence
