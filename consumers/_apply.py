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
   the database, in the upsert itself (`govbus.consumers._merge_sql`), for each key's first
   event of the batch; upserts setting the same fields ("shape") share a statement that
   names only those fields. A key with several events in the batch (a hot key) is read,
   its events folded in memory one by one in arrival order with the same rules, and
   written once (`govbus.consumers._key_merge`).
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
quarantined as STORE_REFUSED; the rest of the batch is applied (merged again without it)
with every offset. The database judges only what is written: a value that loses in memory
to a newer one of the batch is never sent (`govbus.consumers._key_merge`); every event
is judged by the sync's own checks before the store. A transient store failure is retried
(`govbus.consumers._store_retry`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from govbus import (
    Catalog,
    CertificateChanged,
    ChangeEvent,
    EntityKind,
    ErrorCode,
    cyclic_gc_paused,
)
from govbus.consumers._batch_items import (
    BatchItem,
    BatchResult,
    RejectedRecord,
    SourcedEvent,
)
from govbus.consumers._merge_rows import BatchRows
from govbus.consumers._native_rows import scan_batch
from govbus.consumers._refusals import Bisection, quarantine_refused
from govbus.consumers._store import (
    QuarantineRow,
    Store,
    StoreWriter,
    TopicPartition,
    epoch_us,
)
from govbus.consumers._store_errors import describe_store_error, is_refusal
from govbus.consumers._store_retry import StoreRetry

log = structlog.get_logger("govbus.sync")
DEFAULT_RETRY = StoreRetry()


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

    rows: BatchRows
    lowest: dict[TopicPartition, int] = field(default_factory=dict)
    """Partition → its lowest offset in the batch."""
    next_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    events: dict[int, ChangeEvent[Any]] = field(default_factory=dict)
    """The first event of each id (`UUID.int`: hashing a UUID runs Python code), in order."""
    repeats: int = 0
    """Events whose id came earlier in the batch."""
    rejected: list[RejectedRecord] = field(default_factory=list)


def _scan(items: Sequence[BatchItem], catalog: Catalog, now: datetime, *, native: bool) -> _Scan:
    scan = _Scan(BatchRows(catalog, epoch_us(now)))
    # The native loop takes the common upsert and hands the rest to `BatchRows.add`.
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


def _merge_rows(catalog: Catalog, events: Iterable[ChangeEvent[Any]], now: datetime) -> BatchRows:
    rows = BatchRows(catalog, epoch_us(now))
    for event in events:
        rows.add(event)
    return rows


def _unique_rows(
    tx: StoreWriter, scan: _Scan, catalog: Catalog, now: datetime, result: BatchResult
) -> BatchRows:
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


def _write_rows(tx: StoreWriter, rows: BatchRows, now: datetime, result: BatchResult) -> None:
    result.applied_events += rows.applied_events
    result.refused_fields += rows.refused_fields
    for kind, kind_rows in rows.by_kind.items():
        result.stale_fields += tx.merge(kind, kind_rows.first, kind_rows.later, now)
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
