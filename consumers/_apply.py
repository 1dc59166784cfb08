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
   the record's row. The authority check is done here; the sequence comparison runs in
   the database, in the upsert itself (`govbus.consumers._merge_sql`): nothing is read back. The
   k-th event of a key within the batch goes into the k-th round, merged before the next
   one, so events of one key apply in arrival order; within a round, upserts setting the
   same fields ("shape") share a statement that names only those fields.
5. DELETE (key authority only) is a tombstone at its sequence: the record stays, marked
   deleted, every value is cleared, and the key authority's fields and the `_record`
   pseudo-field take the delete's sequence, so older upserts from the key authority stay
   stale. Other departments' fields keep their sequences (theirs are independent
   counters). A later key-authority UPSERT with a greater sequence restores the record.
6. Certificates get `holder_known` when their holder exists (and is not deleted); the
   link is recomputed for every certificate and holder key the batch touches.

The new next offset of each partition is written in the same transaction.

A record the store refuses (data the database cannot hold: a NUL in text on PostgreSQL,
a constraint) is found by splitting the batch (`govbus.consumers._refusals`) and is
quarantined as STORE_REFUSED; the rest of the batch is applied with every offset. A
transient store failure is retried (`govbus.consumers._store_retry`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, NamedTuple

import structlog

from govbus import (
    Catalog,
    CertificateChanged,
    ChangeEvent,
    EntityKind,
    ErrorCode,
    GovbusError,
    Resource,
    cyclic_gc_paused,
)
from govbus.consumers._merge_sql import MergeRow, UpsertShape
from govbus.consumers._native_rows import NativePlan, scan_batch
from govbus.consumers._refusals import Bisection, quarantine_refused
from govbus.consumers._store import (
    EPOCH,
    MICROSECOND,
    MergeRound,
    QuarantineRow,
    Store,
    StoreWriter,
    TopicPartition,
    epoch_us,
)
from govbus.consumers._store_errors import describe_store_error, is_refusal
from govbus.consumers._store_retry import StoreRetry
from govbus.consumers._tables import RECORD_FIELD, columns

log = structlog.get_logger("govbus.sync")
DEFAULT_RETRY = StoreRetry()
Headers = list[tuple[str, str | None]]


class KafkaPosition(NamedTuple):
    """Where a record was read. Named tuples, these three: the native scan reads them by
    position (`govbus.consumers._native_rows`), and a test asserts their field order."""

    topic: str
    partition: int
    offset: int

    @property
    def topic_partition(self) -> TopicPartition:
        return (self.topic, self.partition)


class RejectedRecord(NamedTuple):
    """A record that failed decoding or validation, or that the store refused: it goes to
    quarantine (and the dead-letter topic), not to state."""

    position: KafkaPosition
    error_code: str
    reason: str
    headers: Headers
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class RawRecord:
    """What the sync needs of a Kafka message."""

    position: KafkaPosition
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes | None]]

    def rejected(self, error_code: str, reason: str) -> RejectedRecord:
        """This record as a rejection; `reason` must name no personal value."""
        headers = [(n, v if v is None else v.decode("utf-8", "replace")) for n, v in self.headers]
        return RejectedRecord(self.position, error_code, reason, headers, self.key, self.value)


class SourcedEvent(NamedTuple):
    """A decoded, validated event and where it was read from (the native scan reads the
    first two by position)."""

    event: ChangeEvent[Any]
    position: KafkaPosition
    raw: RawRecord | None = None
    """The record it was decoded from: what the DLQ and quarantine get if the store refuses it."""


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
    store_refused: list[RejectedRecord] = field(default_factory=list)
    """Events the store refused (STORE_REFUSED), now in quarantine; counted in `quarantined`."""

    def add_part(self, part: BatchResult) -> None:
        self.applied_events += part.applied_events
        self.duplicate_events += part.duplicate_events
        self.quarantined += part.quarantined
        self.stale_fields += part.stale_fields
        self.refused_fields += part.refused_fields


@dataclass(slots=True)
class _UpsertPlan:
    """How the upserts of one department with the same changed fields become merge rows."""

    shape: UpsertShape
    values: Callable[[Any], tuple[Any, ...]]
    """The shape's values, from the event's data."""
    refused: int
    """Changed fields the department is not the authority for."""
    first_round: list[MergeRow] | None = None
    """The shape's rows in the batch's first round, once known (plans live for one batch)."""


@dataclass(frozen=True, slots=True)
class _Rules:
    """What the merge needs of a catalog resource: who may set which column."""

    kind: EntityKind
    settable: dict[str, dict[str, int]]
    """Department → the fields it is authoritative for → their index in `columns(kind)`."""
    key_authority: str
    key_authority_fields: tuple[str, ...]
    """The key authority's fields and `_record`: what a DELETE stamps."""
    plans: dict[tuple[str, tuple[str, ...]], _UpsertPlan] = field(default_factory=dict)
    """By (department, changed fields), filled as events come."""

    def plan(self, department: str, changed: tuple[str, ...]) -> _UpsertPlan:
        found = self.plans.get((department, changed))
        if found is not None:
            return found
        allowed = self.settable.get(department, {})
        fields = tuple(sorted({n for n in changed if n in allowed}, key=allowed.__getitem__))
        plan = _UpsertPlan(
            UpsertShape(fields, department == self.key_authority),
            _getter(fields),
            sum(1 for n in changed if n not in allowed),
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
    own = tuple(f.name for f in resource.fields if f.authority == key_authority)
    return _Rules(
        kind=kind,
        settable=settable,
        key_authority=key_authority,
        key_authority_fields=(*own, RECORD_FIELD),
    )


@dataclass(slots=True)
class _KindRows:
    rounds: list[MergeRound] = field(default_factory=lambda: [MergeRound()])
    seen: dict[str, int] = field(default_factory=dict)
    """Key → how many of its events are in the rounds: its next event goes one round later."""

    def round_for(self, key: str) -> MergeRound:
        n = self.seen.get(key, 0)
        self.seen[key] = n + 1
        if n == len(self.rounds):
            self.rounds.append(MergeRound())
        return self.rounds[n]


_Target = tuple[_Rules, _KindRows]


@dataclass(slots=True)
class _Rows:
    """The batch's events as merge rows per kind (see `govbus.consumers._merge_sql`)."""

    catalog: Catalog
    applied_us: int
    applied_events: int = 0
    refused_fields: int = 0
    by_kind: dict[EntityKind, _KindRows] = field(default_factory=dict)
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
                rows = self.by_kind[entity] = _KindRows()
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
        # Sent even if every field was refused: the record exists from its first event on.
        row: MergeRow = [key, *plan.values(data), event.source_sequence, self.stamp(event), None]
        seen = rows.seen
        if key in seen:  # a later event of the key: one round later
            group = rows.round_for(key).upserts.setdefault(plan.shape, [])
        else:
            seen[key] = 1
            first = plan.first_round
            if first is None:
                first = plan.first_round = rows.rounds[0].upserts.setdefault(plan.shape, [])
            group = first
        group.append(row)

    def add_delete(self, rules: _Rules, rows: _KindRows, event: ChangeEvent[Any]) -> None:
        if event.source_department != rules.key_authority:
            self.refused_fields += 1
            return
        row: MergeRow = [event.entity_key, event.source_sequence, self.stamp(event), None]
        deletes = rows.round_for(event.entity_key).deletes
        deletes.setdefault(rules.key_authority_fields, []).append(row)

    def native_plan(self, event: ChangeEvent[Any]) -> NativePlan | None:
        """For the native scan: the known plan of an upsert (not a certificate's) whose
        first-round rows exist, else None (the event then goes to `add`)."""
        found = self.targets.get((type(event), None))
        if found is None:
            return None
        rules, rows = found
        plan = rules.plans.get((event.source_department, event.changed_fields))
        if plan is None or plan.first_round is None:
            return None
        return NativePlan(plan.shape.fields, plan.refused, plan.first_round, rows.seen)


def _fresh_items(
    items: Sequence[BatchItem], stored: dict[TopicPartition, int], result: BatchResult
) -> list[BatchItem]:
    """The items not applied before, in order; their next offsets go in `result`."""
    fresh: list[BatchItem] = []
    next_offsets = result.next_offsets
    for item in items:
        position = item.position
        tp = (position.topic, position.partition)
        offset = position.offset
        if offset < stored.get(tp, -1):
            result.replayed_records += 1
            continue
        fresh.append(item)
        if offset >= next_offsets.get(tp, 0):
            next_offsets[tp] = offset + 1
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


@dataclass(slots=True)
class _Scan:
    """A batch read in one pass, before its transaction: what it holds, by partition, and
    its merge rows, made before knowing which ids were applied in earlier batches (usually
    none: else they are made again without those)."""

    rows: _Rows
    lowest: dict[TopicPartition, int] = field(default_factory=dict)
    """Partition → its lowest offset in the batch."""
    next_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    events: dict[int, ChangeEvent[Any]] = field(default_factory=dict)
    """The first event of each id (`UUID.int`: hashing a UUID runs Python code), in order."""
    repeats: int = 0
    """Events whose id came earlier in the batch."""
    rejected: list[RejectedRecord] = field(default_factory=list)


def _scan(items: Sequence[BatchItem], catalog: Catalog, now: datetime, *, native: bool) -> _Scan:
    scan = _Scan(_Rows(catalog, epoch_us(now)))
    # The native loop takes the common upsert and hands the rest to `_Rows.add`.
    counts = scan_batch(
        items, scan, SourcedEvent, CertificateChanged, scan.rows.native_plan, native=native
    )
    if counts is not None:
        scan.rows.applied_events += counts[0]
        scan.rows.refused_fields += counts[1]
        return scan
    lowest, next_offsets, events, add = scan.lowest, scan.next_offsets, scan.events, scan.rows.add
    for item in items:
        position = item.position
        tp = (position.topic, position.partition)
        offset = position.offset
        if offset >= next_offsets.get(tp, 0):
            next_offsets[tp] = offset + 1
        if offset < lowest.get(tp, offset + 1):
            lowest[tp] = offset
        if isinstance(item, SourcedEvent):
            event = item.event
            n = len(events)
            events.setdefault(event.event_id.int, event)
            if len(events) > n:
                add(event)
        else:
            scan.rejected.append(item)
    scan.repeats = len(items) - len(scan.rejected) - len(events)
    return scan


def _merge_rows(catalog: Catalog, events: Iterable[ChangeEvent[Any]], now: datetime) -> _Rows:
    rows = _Rows(catalog, epoch_us(now))
    for event in events:
        rows.add(event)
    return rows


def _unique_rows(
    tx: StoreWriter, scan: _Scan, catalog: Catalog, now: datetime, result: BatchResult
) -> _Rows:
    """The merge rows without duplicates (outbox retries): ids seen earlier in this batch
    (left out by the scan) or in earlier ones.

    Processed ids are kept as one indexed column (16-byte uuid on PostgreSQL) and claimed in
    the batch's transaction, so the check is one statement per batch and exact (counters
    never double count). The per-field sequence check alone would keep state right on
    a retry, since a retry carries the same sequence, but not the counts.
    """
    first = scan.events
    known = tx.claim_event_ids(first.keys(), now) if first else set()
    result.duplicate_events += scan.repeats + len(known)
    if not known:
        return scan.rows
    return _merge_rows(catalog, (e for event_id, e in first.items() if event_id not in known), now)


def _write_rows(tx: StoreWriter, rows: _Rows, now: datetime, result: BatchResult) -> None:
    result.applied_events += rows.applied_events
    result.refused_fields += rows.refused_fields
    for kind, kind_rows in rows.by_kind.items():
        result.stale_fields += tx.merge(kind, kind_rows.rounds, now)
    # Any record of the batch may have appeared, been deleted or restored.
    certificates = rows.by_kind.get(EntityKind.CERTIFICATE)
    holders: dict[EntityKind, Collection[str]] = {
        kind: kind_rows.seen.keys()
        for kind, kind_rows in rows.by_kind.items()
        if kind is not EntityKind.CERTIFICATE
    }
    if certificates or holders:
        tx.refresh_holder_links(certificates.seen.keys() if certificates else (), holders)


def apply_batch(
    store: Store,
    items: Sequence[BatchItem],
    *,
    catalog: Catalog,
    group: str,
    now: datetime | None = None,
    retry: StoreRetry = DEFAULT_RETRY,
    native: bool = True,
    dead_letter: Callable[[list[RejectedRecord]], None] | None = None,
) -> BatchResult:
    """Apply a batch in one transaction: state with provenance, dedup ids, quarantine, offsets.

    A transient store failure (a lost connection, a conflict with a concurrent transaction,
    a busy SQLite) committed nothing: the batch runs again, with backoff, within `retry`'s
    budget. If the store refuses the batch's data, the batch is applied again in parts
    (`govbus.consumers._refusals`): the events it refuses go to `dead_letter` (before the
    commit) and to quarantine as STORE_REFUSED, the others are applied, and the offsets of
    all advance. `native`: the native row builder and COPY encoder where built (the sync
    passes its `Settings.native`).
    """

    def attempt() -> BatchResult:
        try:
            return _apply_once(store, items, catalog=catalog, group=group, now=now, native=native)
        except Exception as error:
            if not is_refusal(error):
                raise
            refusal = error
        at = now or datetime.now(UTC)
        return _apply_refusing(store, items, catalog, group, at, refusal, dead_letter, native)

    return retry.run(attempt, "applying a batch")


def _apply_once(
    store: Store,
    items: Sequence[BatchItem],
    *,
    catalog: Catalog,
    group: str,
    now: datetime | None,
    native: bool,
) -> BatchResult:
    with cyclic_gc_paused():
        # The batch's rows die when this call returns, before the collector is back: its
        # allocation count then drops by as much as it grew, so no collection follows.
        return _apply_paused(store, items, catalog, group, now or datetime.now(UTC), native)


def _apply_paused(
    store: Store,
    items: Sequence[BatchItem],
    catalog: Catalog,
    group: str,
    now: datetime,
    native: bool,
) -> BatchResult:
    result = BatchResult()
    scan = _scan(items, catalog, now, native=native)
    with store.transaction(native=native) as tx:
        _apply_scanned(tx, items, scan, catalog, group, now, result, native)
    return result


def _apply_scanned(
    tx: StoreWriter,
    items: Sequence[BatchItem],
    scan: _Scan,
    catalog: Catalog,
    group: str,
    now: datetime,
    result: BatchResult,
    native: bool,
) -> None:
    stored = tx.lock_offsets(group, scan.lowest.keys())
    if all(stored.get(tp, -1) <= low for tp, low in scan.lowest.items()):
        result.next_offsets = scan.next_offsets  # the usual case: nothing applied before
    else:  # a replay after a crash or a rebalance: read the batch again, without those
        scan = _scan(_fresh_items(items, stored, result), catalog, now, native=native)
    _write_scan(tx, scan, catalog, now, result)
    if result.next_offsets:
        tx.save_offsets(group, result.next_offsets, now)


def _write_scan(
    tx: StoreWriter, scan: _Scan, catalog: Catalog, now: datetime, result: BatchResult
) -> None:
    rejected = scan.rejected
    _write_rows(tx, _unique_rows(tx, scan, catalog, now, result), now, result)
    if rejected:
        tx.quarantine(_quarantine_rows(rejected, now))
        result.quarantined = len(rejected)


def _apply_refusing(
    store: Store,
    items: Sequence[BatchItem],
    catalog: Catalog,
    group: str,
    now: datetime,
    refusal: Exception,
    dead_letter: Callable[[list[RejectedRecord]], None] | None,
    native: bool,
) -> BatchResult:
    """A batch the store refused, in parts (bisection), in one transaction with its offsets."""
    result = BatchResult()
    with cyclic_gc_paused(), store.transaction(native=native) as tx:
        stored = tx.lock_offsets(group, {item.position.topic_partition for item in items})
        fresh = _fresh_items(items, stored, result)  # every offset, the refused ones' too

        def apply_part(part: Sequence[BatchItem]) -> BatchResult:
            done = BatchResult()
            _write_scan(tx, _scan(part, catalog, now, native=native), catalog, now, done)
            return done

        bisection: Bisection[BatchItem, BatchResult] = Bisection(apply_part, tx.savepoint)
        bisection.settle(fresh, refusal)
        for part in bisection.applied:
            result.add_part(part)
        refused = [_refused(item, error) for item, error in bisection.refused]
        # A rejection whose quarantine row was refused is in the dead-letter topic already.
        result.store_refused = [r for r in refused if r.error_code == ErrorCode.STORE_REFUSED]
        if result.store_refused and dead_letter is not None:
            dead_letter(result.store_refused)  # before the commit: at least once
        quarantine_refused(tx, _quarantine_rows(refused, now))
        result.quarantined += len(refused)
        if result.next_offsets:
            tx.save_offsets(group, result.next_offsets, now)
    log.warning(
        "batch refused by the store, applied in parts",
        records=len(items),
        parts=bisection.parts_tried,
        refused=len(refused),
        error=describe_store_error(refusal),
    )
    return result


def _refused(item: BatchItem, error: Exception) -> RejectedRecord:
    if isinstance(item, RejectedRecord):
        return item  # what the store refused was its quarantine row
    reason = f"the store refused the record: {describe_store_error(error)}"
    if item.raw is not None:
        return item.raw.rejected(ErrorCode.STORE_REFUSED, reason)
    return RejectedRecord(item.position, ErrorCode.STORE_REFUSED, reason, [], None, None)
