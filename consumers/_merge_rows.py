"""A batch's events as merge rows, per kind: the authority check and the shapes.

Per event: only the field's authoritative department (the catalog) may set it (the others
are counted as refused fields); a DELETE only from the key authority. The first event of
each key becomes a merge row of its shape (the fields it sets, from the key authority or
not: `govbus.consumers._merge_sql`); a later event of the same key (a hot key) is kept as
a `KeyEvent`, folded in memory with the first by the store (`govbus.consumers._key_merge`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from govbus import Catalog, CertificateChanged, ChangeEvent, EntityKind, GovbusError, Resource
from govbus.consumers._key_merge import KeyEvent, state_layout
from govbus.consumers._merge_sql import MergeRound, MergeRow, UpsertShape
from govbus.consumers._native_rows import NativePlan
from govbus.consumers._store import EPOCH, MICROSECOND
from govbus.consumers._tables import RECORD_FIELD, columns


@dataclass(slots=True)
class UpsertPlan:
    """How the upserts of one department with the same changed fields become merge rows."""

    shape: UpsertShape
    values: Callable[[Any], tuple[Any, ...]]
    """The shape's values, from the event's data."""
    refused: int
    """Changed fields the department is not the authority for."""
    stamped: tuple[int, ...] = ()
    """The shape's fields' positions among the stamped names (`govbus.consumers._key_merge`)."""
    first_round: list[MergeRow] | None = None
    """The shape's rows among the batch's first events, once known (plans live for one batch)."""


@dataclass(frozen=True, slots=True)
class _Rules:
    """What the merge needs of a catalog resource: who may set which column."""

    kind: EntityKind
    settable: dict[str, dict[str, int]]
    """Department → the fields it is authoritative for → their index in `columns(kind)`."""
    key_authority: str
    key_authority_fields: tuple[str, ...]
    """The key authority's fields and `_record`: what a DELETE stamps."""
    delete_stamps: tuple[int, ...]
    """Those fields' positions among the stamped names (`govbus.consumers._key_merge`)."""
    plans: dict[tuple[str, tuple[str, ...]], UpsertPlan] = field(default_factory=dict)
    """By (department, changed fields), filled as events come."""

    def plan(self, department: str, changed: tuple[str, ...]) -> UpsertPlan:
        found = self.plans.get((department, changed))
        if found is not None:
            return found
        allowed = self.settable.get(department, {})
        fields = tuple(sorted({n for n in changed if n in allowed}, key=allowed.__getitem__))
        index = state_layout(self.kind).index
        plan = UpsertPlan(
            UpsertShape(fields, department == self.key_authority),
            _getter(fields),
            sum(1 for n in changed if n not in allowed),
            tuple(index[n] for n in fields),
        )
        self.plans[(department, changed)] = plan
        return plan


def _getter(fields: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    if len(fields) > 1:
        return attrgetter(*fields)
    if fields:
        name = fields[0]
        return lambda data: (getattr(data, name),)
    return lambda data: ()


def _rules(resource: Resource, kind: EntityKind) -> _Rules:
    index = {name: i for i, name in enumerate(columns(kind))}
    settable: dict[str, dict[str, int]] = {}
    for f in resource.fields:
        settable.setdefault(f.authority, {})[f.name] = index[f.name]
    key_authority = resource.key.authority
    own = (*(f.name for f in resource.fields if f.authority == key_authority), RECORD_FIELD)
    stamped = state_layout(kind).index
    return _Rules(
        kind=kind,
        settable=settable,
        key_authority=key_authority,
        key_authority_fields=own,
        delete_stamps=tuple(stamped[n] for n in own),
    )


@dataclass(slots=True)
class KindRows:
    """A kind's events of a batch: each key's first as a merge row, the later ones by key."""

    first: MergeRound = field(default_factory=MergeRound)
    seen: dict[str, int] = field(default_factory=dict)
    """The keys in `first` (the native scan adds its own)."""
    later: dict[str, list[KeyEvent]] = field(default_factory=dict)
    """A hot key's events after its first, in arrival order (`govbus.consumers._key_merge`)."""


_Target = tuple[_Rules, KindRows]


@dataclass(slots=True)
class BatchRows:
    """The batch's events as merge rows per kind (see `govbus.consumers._merge_sql`)."""

    catalog: Catalog
    applied_us: int
    applied_events: int = 0
    refused_fields: int = 0
    by_kind: dict[EntityKind, KindRows] = field(default_factory=dict)
    targets: dict[tuple[type, str | None], _Target | None] = field(default_factory=dict)
    """By event class and licence type (certificates): the resource's rules and the rows of
    its kind."""
    stamp_end: str = ""
    """What ends every stamp of the batch: the applied-at."""

    def __post_init__(self) -> None:
        self.stamp_end = f" {self.applied_us}"

    def target(self, event: ChangeEvent[Any]) -> _Target | None:
        licence = event.licence_type_code if isinstance(event, CertificateChanged) else None
        cache_key = (type(event), licence)
        try:
            return self.targets[cache_key]
        except KeyError:
            pass
        entity = event.entity
        try:
            resource = self.catalog.resource_for_entity(entity, licence)
        except GovbusError:
            found = None
        else:
            rows = self.by_kind.get(entity)
            if rows is None:
                rows = self.by_kind[entity] = KindRows()
            found = (_rules(resource, entity), rows)
        self.targets[cache_key] = found
        return found

    def stamp(self, event: ChangeEvent[Any]) -> str:
        # One text per event, shared by every field it sets. `bytes.hex` is the quickest hex.
        event_id = event.event_id.int.to_bytes(16, "big").hex()
        occurred = (event.occurred_at - EPOCH) // MICROSECOND
        return f"{event.source_department} {event_id} {occurred}{self.stamp_end}"

    def add(self, event: ChangeEvent[Any]) -> None:
        found = self.target(event)
        if found is None:  # no resource for it: every field refused
            self.refused_fields += len(event.changed_fields) or 1
            return
        self.applied_events += 1
        rules, rows = found
        if event.operation == "DELETE":
            self.add_delete(rules, rows, event)
            return
        data = event.data
        plan = rules.plan(event.source_department, event.changed_fields if data is not None else ())
        if plan.refused:
            self.refused_fields += plan.refused
        key = event.entity_key
        seen = rows.seen
        if key in seen:  # a later event of the key: merged in memory
            later = KeyEvent(
                plan.stamped,
                plan.values(data),
                (),
                plan.shape.key_authority,
                event.source_sequence,
                self.stamp(event),
            )
            rows.later.setdefault(key, []).append(later)
            return
        seen[key] = 1
        first = plan.first_round
        if first is None:
            first = plan.first_round = rows.first.upserts.setdefault(plan.shape, [])
        # Sent even if every field was refused: the record exists from its first event on.
        first.append([key, *plan.values(data), event.source_sequence, self.stamp(event), None])

    def add_delete(self, rules: _Rules, rows: KindRows, event: ChangeEvent[Any]) -> None:
        if event.source_department != rules.key_authority:
            self.refused_fields += 1
            return
        key = event.entity_key
        if key in rows.seen:
            later = KeyEvent(
                None, (), rules.delete_stamps, True, event.source_sequence, self.stamp(event)
            )
            rows.later.setdefault(key, []).append(later)
            return
        rows.seen[key] = 1
        row: MergeRow = [key, event.source_sequence, self.stamp(event), None]
        rows.first.deletes.setdefault(rules.key_authority_fields, []).append(row)

    def native_plan(self, event: ChangeEvent[Any]) -> NativePlan | None:
        """For the native scan: the known plan of an upsert (not a certificate's) whose
        first-event rows exist, else None (the event then goes to `add`)."""
        found = self.targets.get((type(event), None))
        if found is None:
            return None
        rules, rows = found
        plan = rules.plans.get((event.source_department, event.changed_fields))
        if plan is None or plan.first_round is None:
            return None
        return NativePlan(plan.shape.fields, plan.refused, plan.first_round, rows.seen)
