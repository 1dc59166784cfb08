"""`apply_batch`: one store transaction per batch of Kafka records.

Rules, in order, for every record of the batch:

1. Records below the stored next offset of their partition were applied before (a replay
   after a crash or a rebalance) and are skipped. The offsets are locked for the
   transaction, so two instances racing on a partition serialise.
2. Rejected records (bad input found upstream) become quarantine rows.
3. An event whose id was applied before (outbox retries) is a duplicate and is skipped.
4. Per field: only the field's authoritative department (the catalog) may set it, and only
   with a source sequence greater than the one stored for that field, so a stale or
   reordered update never overwrites a newer value. A field listed in `changed_fields`
   with a null value is set to null; fields not listed are left untouched. The field's
   provenance stamp (department, sequence, event id, occurred-at, applied-at) is kept in
   the record's row, so one event costs one row write and the current rows of all keys
   of the batch are read, values and sequences together, with one SELECT.
5. DELETE (key authority only) is a tombstone at its sequence: the record stays, marked
   deleted, every value is cleared, and the key authority's fields and the `_record`
   pseudo-field take the delete's sequence, so older upserts from the key authority stay
   stale. Other departments' fields keep their sequences (theirs are independent
   counters). A later key-authority UPSERT with a greater sequence restores the record.
6. Certificates get `holder_known` when their holder exists (and is not deleted); the
   link is recomputed whenever a certificate or a holder appears, changes or is deleted.

The new next offset of each partition is written in the same transaction.
"""

from __future__ import annotations

import gc
import uuid
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from consumers._store import (
    STAMP_SEQUENCE,
    EntityState,
    QuarantineRow,
    Stamp,
    Store,
    StoreWriter,
    TopicPartition,
    epoch_us,
)
from consumers._tables import RECORD_FIELD, columns
from govbus import (
    Catalog,
    CertificateChanged,
    ChangeEvent,
    EntityKind,
    GovbusError,
    Resource,
)

Headers = list[tuple[str, str | None]]


@dataclass(frozen=True, slots=True)
class KafkaPosition:
    topic: str
    partition: int
    offset: int

    @property
    def topic_partition(self) -> TopicPartition:
        return (self.topic, self.partition)


@dataclass(frozen=True, slots=True)
class SourcedEvent:
    """A decoded, validated event and where it was read from."""

    event: ChangeEvent[Any]
    position: KafkaPosition


@dataclass(frozen=True, slots=True)
class RejectedRecord:
    """A record that failed decoding or validation: it goes to quarantine, not to state."""

    position: KafkaPosition
    error_code: str
    reason: str
    headers: Headers
    key: bytes | None
    value: bytes | None


BatchItem = SourcedEvent | RejectedRecord


@dataclass(slots=True)
class BatchResult:
    applied_events: int = 0
    duplicate_events: int = 0
    replayed_records: int = 0
    quarantined: int = 0
    stale_fields: int = 0
    refused_fields: int = 0
    next_offsets: dict[TopicPartition, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Rules:
    """What the merge needs of a catalog resource, as plain dicts."""

    authority: dict[str, str]
    key_authority: str
    key_authority_fields: tuple[str, ...]
    """The key authority's fields and `_record`: what a DELETE stamps."""


def _rules(resource: Resource) -> _Rules:
    key_authority = resource.key.authority
    own = tuple(f.name for f in resource.fields if f.authority == key_authority)
    return _Rules(
        authority={f.name: f.authority for f in resource.fields},
        key_authority=key_authority,
        key_authority_fields=(*own, RECORD_FIELD),
    )


@dataclass(slots=True)
class _Merge:
    """In-memory state of the entities a batch touches, and what must be written back."""

    catalog: Catalog
    applied_us: int
    states: dict[EntityKind, dict[str, EntityState]]
    dirty: dict[EntityKind, dict[str, EntityState]] = field(default_factory=dict)
    existence_changed: dict[EntityKind, set[str]] = field(default_factory=dict)
    rules: dict[tuple[EntityKind, str | None], _Rules | None] = field(default_factory=dict)
    result: BatchResult = field(default_factory=BatchResult)

    def rules_for(self, event: ChangeEvent[Any]) -> _Rules | None:
        licence = event.licence_type_code if isinstance(event, CertificateChanged) else None
        cache_key = (event.entity, licence)
        if cache_key not in self.rules:
            try:
                resource = self.catalog.resource_for_entity(event.entity, licence)
            except GovbusError:
                self.rules[cache_key] = None
            else:
                self.rules[cache_key] = _rules(resource)
        return self.rules[cache_key]

    def state(self, kind: EntityKind, key: str) -> EntityState:
        by_key = self.states.setdefault(kind, {})
        state = by_key.get(key)
        if state is None:
            state = by_key[key] = EntityState(dict.fromkeys(columns(kind)))
        return state

    def touch(self, kind: EntityKind, key: str, state: EntityState, *, existence: bool) -> None:
        self.dirty.setdefault(kind, {})[key] = state
        if existence or not state.exists:
            self.existence_changed.setdefault(kind, set()).add(key)
        state.exists = True

    def stamp(self, event: ChangeEvent[Any]) -> Stamp:
        # One list per event, shared by every field it sets: built once, not per field.
        return [
            event.source_department,
            event.source_sequence,
            event.event_id.hex,
            epoch_us(event.occurred_at),
            self.applied_us,
        ]


def _sequence(state: EntityState, name: str) -> int:
    stamp = state.provenance.get(name)
    return -1 if stamp is None else int(stamp[STAMP_SEQUENCE])


def _merge_upsert(merge: _Merge, rules: _Rules, event: ChangeEvent[Any]) -> None:
    state = merge.state(event.entity, event.entity_key)
    seq = event.source_sequence
    department = event.source_department
    values, provenance = state.values, state.provenance
    stamp: Stamp | None = None
    for name, value in event.changed_values().items():
        if rules.authority.get(name) != department:
            merge.result.refused_fields += 1
            continue
        current = provenance.get(name)
        if current is not None and seq <= current[STAMP_SEQUENCE]:
            merge.result.stale_fields += 1
            continue
        stamp = stamp or merge.stamp(event)
        values[name] = value
        provenance[name] = stamp
    restored = (
        state.deleted and department == rules.key_authority and seq > _sequence(state, RECORD_FIELD)
    )
    if restored:
        state.deleted = False
        provenance[RECORD_FIELD] = stamp or merge.stamp(event)
    if stamp is not None or restored or not state.exists:
        merge.touch(event.entity, event.entity_key, state, existence=restored)


def _merge_delete(merge: _Merge, rules: _Rules, event: ChangeEvent[Any]) -> None:
    if event.source_department != rules.key_authority:
        merge.result.refused_fields += 1
        return
    state = merge.state(event.entity, event.entity_key)
    own = rules.key_authority_fields
    seq = event.source_sequence
    if seq <= max(_sequence(state, name) for name in own):
        merge.result.stale_fields += 1
        return
    state.values = dict.fromkeys(state.values)
    state.deleted = True
    stamp = merge.stamp(event)
    for name in own:
        state.provenance[name] = stamp
    merge.touch(event.entity, event.entity_key, state, existence=True)


def _fresh_items(
    items: Sequence[BatchItem], stored: dict[TopicPartition, int], result: BatchResult
) -> list[BatchItem]:
    fresh: list[BatchItem] = []
    for item in items:
        tp = item.position.topic_partition
        if item.position.offset < stored.get(tp, -1):
            result.replayed_records += 1
            continue
        fresh.append(item)
        result.next_offsets[tp] = max(result.next_offsets.get(tp, 0), item.position.offset + 1)
    return fresh


def _quarantine_rows(rejected: list[RejectedRecord], at: datetime) -> list[QuarantineRow]:
    return [
        QuarantineRow(
            topic=r.position.topic,
            partition=r.position.partition,
            offset=r.position.offset,
            error_code=r.error_code,
            reason=r.reason,
            headers=r.headers,
            record_key=r.key,
            record_value=r.value,
            quarantined_at=at,
        )
        for r in rejected
    ]


def _unique_events(
    tx: StoreWriter, events: list[SourcedEvent], result: BatchResult
) -> list[ChangeEvent[Any]]:
    """Drop duplicates (outbox retries): ids seen earlier in this batch or in earlier ones.

    Processed ids are kept as one indexed column (16-byte uuid on PostgreSQL) and claimed in
    the batch's transaction, so the check is one statement per batch and exact (counters
    never double count). The per-field sequence check alone would keep state right on
    a retry, since a retry carries the same sequence, but not the counts.
    """
    first: dict[uuid.UUID, ChangeEvent[Any]] = {}
    for sourced in events:
        first.setdefault(sourced.event.event_id, sourced.event)
    known = tx.claim_event_ids(first.keys()) if first else set()
    result.duplicate_events += len(events) - len(first) + len(known)
    return [event for event_id, event in first.items() if event_id not in known]


def _merge_events(
    tx: StoreWriter,
    catalog: Catalog,
    events: list[ChangeEvent[Any]],
    now: datetime,
    result: BatchResult,
) -> _Merge:
    keys: dict[EntityKind, set[str]] = {}
    for event in events:
        keys.setdefault(event.entity, set()).add(event.entity_key)
    states = {kind: tx.load_states(kind, kind_keys) for kind, kind_keys in keys.items()}
    merge = _Merge(catalog, epoch_us(now), states, result=result)
    for event in events:
        rules = merge.rules_for(event)
        if rules is None:
            merge.result.refused_fields += len(event.changed_fields) or 1
            continue
        if event.operation == "DELETE":
            _merge_delete(merge, rules, event)
        else:
            _merge_upsert(merge, rules, event)
        merge.result.applied_events += 1
    return merge


def _write_merge(tx: StoreWriter, merge: _Merge, now: datetime) -> None:
    for kind, dirty in merge.dirty.items():
        # Key order: concurrent writers (during a rebalance) lock rows in the same order.
        tx.upsert_entities(kind, sorted(dirty.items()), now)
    certificates = merge.dirty.get(EntityKind.CERTIFICATE, {}).keys()
    holders: dict[EntityKind, Collection[str]] = {
        kind: keys
        for kind, keys in merge.existence_changed.items()
        if kind is not EntityKind.CERTIFICATE
    }
    if certificates or holders:
        tx.refresh_holder_links(certificates, holders)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """The merge allocates a few objects per event, none in cycles (refcounting frees them),
    yet each allocation burst triggers collections that walk the whole heap: ≈ 20 % of a
    batch. Pause the cyclic collector for the batch only, then restore its state."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def apply_batch(
    store: Store,
    items: Sequence[BatchItem],
    *,
    catalog: Catalog,
    group: str,
    now: datetime | None = None,
) -> BatchResult:
    """Apply a batch in one transaction: state with provenance, dedup ids, quarantine, offsets."""
    now = now or datetime.now(UTC)
    result = BatchResult()
    with _cyclic_gc_paused(), store.transaction() as tx:
        stored = tx.lock_offsets(group, {item.position.topic_partition for item in items})
        fresh = _fresh_items(items, stored, result)
        rejected = [i for i in fresh if isinstance(i, RejectedRecord)]
        events = _unique_events(tx, [i for i in fresh if isinstance(i, SourcedEvent)], result)
        merge = _merge_events(tx, catalog, events, now, result)
        _write_merge(tx, merge, now)
        if rejected:
            tx.quarantine(_quarantine_rows(rejected, now))
            result.quarantined = len(rejected)
        if result.next_offsets:
            tx.save_offsets(group, result.next_offsets, now)
    return result
