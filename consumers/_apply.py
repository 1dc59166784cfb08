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
   with a null value is set to null; fields not listed are left untouched.
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

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from consumers._store import (
    EntityRow,
    EntityState,
    FieldProvenance,
    QuarantineRow,
    Store,
    StoreWriter,
    TopicPartition,
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


@dataclass(slots=True)
class _Merge:
    """In-memory state of the entities a batch touches, and what must be written back."""

    catalog: Catalog
    applied_at: datetime
    states: dict[EntityKind, dict[str, EntityState]]
    dirty: dict[EntityKind, set[str]] = field(default_factory=dict)
    existence_changed: dict[EntityKind, set[str]] = field(default_factory=dict)
    provenance: dict[tuple[EntityKind, str, str], FieldProvenance] = field(default_factory=dict)
    result: BatchResult = field(default_factory=BatchResult)

    def state(self, kind: EntityKind, key: str) -> EntityState:
        by_key = self.states.setdefault(kind, {})
        state = by_key.get(key)
        if state is None:
            state = by_key[key] = EntityState(dict.fromkeys(columns(kind)))
        return state

    def touch(self, kind: EntityKind, key: str, state: EntityState, *, existence: bool) -> None:
        self.dirty.setdefault(kind, set()).add(key)
        if existence or not state.exists:
            self.existence_changed.setdefault(kind, set()).add(key)
        state.exists = True

    def note(self, event: ChangeEvent[Any], name: str) -> None:
        self.provenance[(event.entity, event.entity_key, name)] = FieldProvenance(
            entity=event.entity,
            entity_key=event.entity_key,
            field=name,
            source_department=event.source_department,
            event_id=event.event_id,
            source_sequence=event.source_sequence,
            occurred_at=event.occurred_at,
            applied_at=self.applied_at,
        )


def _resource(catalog: Catalog, event: ChangeEvent[Any]) -> Resource:
    licence = event.licence_type_code if isinstance(event, CertificateChanged) else None
    return catalog.resource_for_entity(event.entity, licence)


def _merge_upsert(merge: _Merge, resource: Resource, event: ChangeEvent[Any]) -> None:
    state = merge.state(event.entity, event.entity_key)
    seq = event.source_sequence
    changed = False
    for name, value in event.changed_values().items():
        spec = resource.fields_by_name.get(name)
        if spec is None or spec.authority != event.source_department:
            merge.result.refused_fields += 1
            continue
        if seq <= state.sequences.get(name, -1):
            merge.result.stale_fields += 1
            continue
        state.values[name] = value
        state.sequences[name] = seq
        merge.note(event, name)
        changed = True
    restored = (
        state.deleted
        and event.source_department == resource.key.authority
        and seq > state.sequences.get(RECORD_FIELD, -1)
    )
    if restored:
        state.deleted = False
        state.sequences[RECORD_FIELD] = seq
        merge.note(event, RECORD_FIELD)
    if changed or restored or not state.exists:
        merge.touch(event.entity, event.entity_key, state, existence=restored)


def _merge_delete(merge: _Merge, resource: Resource, event: ChangeEvent[Any]) -> None:
    authority = resource.key.authority
    if event.source_department != authority:
        merge.result.refused_fields += 1
        return
    state = merge.state(event.entity, event.entity_key)
    own = [f.name for f in resource.fields if f.authority == authority] + [RECORD_FIELD]
    seq = event.source_sequence
    if seq <= max((state.sequences.get(name, -1) for name in own), default=-1):
        merge.result.stale_fields += 1
        return
    state.values = dict.fromkeys(state.values)
    state.deleted = True
    for name in own:
        state.sequences[name] = seq
        merge.note(event, name)
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
    known = tx.known_event_ids({e.event.event_id for e in events}) if events else set()
    unique: list[ChangeEvent[Any]] = []
    seen: set[uuid.UUID] = set()
    for sourced in events:
        event_id = sourced.event.event_id
        if event_id in known or event_id in seen:
            result.duplicate_events += 1
            continue
        seen.add(event_id)
        unique.append(sourced.event)
    return unique


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
    merge = _Merge(catalog, now, states, result=result)
    for event in events:
        try:
            resource = _resource(catalog, event)
        except GovbusError:
            merge.result.refused_fields += len(event.changed_fields) or 1
            continue
        if event.operation == "DELETE":
            _merge_delete(merge, resource, event)
        else:
            _merge_upsert(merge, resource, event)
        merge.result.applied_events += 1
    return merge


def _write_merge(tx: StoreWriter, merge: _Merge) -> None:
    for kind, keys in merge.dirty.items():
        by_key = merge.states[kind]
        rows = [
            EntityRow(key, by_key[key].values, by_key[key].deleted, merge.applied_at)
            for key in sorted(keys)
        ]
        tx.upsert_entities(kind, rows)
    if merge.provenance:
        tx.upsert_provenance(list(merge.provenance.values()))
    certificates = merge.dirty.get(EntityKind.CERTIFICATE, set())
    holders: dict[EntityKind, Collection[str]] = {
        kind: keys
        for kind, keys in merge.existence_changed.items()
        if kind is not EntityKind.CERTIFICATE
    }
    if certificates or holders:
        tx.refresh_holder_links(certificates, holders)


def apply_batch(
    store: Store,
    items: Sequence[BatchItem],
    *,
    catalog: Catalog,
    group: str,
    now: datetime | None = None,
) -> BatchResult:
    """Apply a batch in one transaction: state, provenance, dedup ids, quarantine, offsets."""
    now = now or datetime.now(UTC)
    result = BatchResult()
    with store.transaction() as tx:
        stored = tx.lock_offsets(group, {item.position.topic_partition for item in items})
        fresh = _fresh_items(items, stored, result)
        rejected = [i for i in fresh if isinstance(i, RejectedRecord)]
        events = _unique_events(tx, [i for i in fresh if isinstance(i, SourcedEvent)], result)
        merge = _merge_events(tx, catalog, events, now, result)
        _write_merge(tx, merge)
        if events:
            tx.record_processed([e.event_id for e in events])
        if rejected:
            tx.quarantine(_quarantine_rows(rejected, now))
            result.quarantined = len(rejected)
        if result.next_offsets:
            tx.save_offsets(group, result.next_offsets, now)
    return result
