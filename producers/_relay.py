"""The outbox relay: publish committed outbox rows, then mark them sent.

One cycle: claim rows, parse and check each, produce them, wait for the broker's acks,
mark the acknowledged ones, commit. A crash before the commit leaves the rows unsent, so
they are published again: at-least-once, and the event id lets consumers drop duplicates.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import structlog
from pydantic import ValidationError

from govbus import EVENT_TYPES, ErrorCode, GovbusError, schema_mismatch
from govbus.producers._delivery import DeliveryFailure
from govbus.producers._outbox_store import OutboxRow, OutboxStore
from govbus.producers._publisher import Publisher, refused

log = structlog.get_logger("govbus.relay")


@dataclass
class RelayStats:
    sent: int = 0
    refused: int = 0
    failed: int = 0
    cycles: int = 0
    refusals_by_code: dict[str, int] = field(default_factory=dict)


# By plain string: a dict hit instead of an enum lookup per row.
_EVENT_CLASS_BY_AGGREGATE_TYPE = {str(kind): cls for kind, cls in EVENT_TYPES.items()}


def parse_row(row: OutboxRow) -> Any:
    """The typed change event of an outbox row; SCHEMA_MISMATCH if it is not one."""
    event_class = _EVENT_CLASS_BY_AGGREGATE_TYPE.get(row.aggregatetype)
    if event_class is None:
        raise GovbusError(
            ErrorCode.UNKNOWN_RESOURCE, f"outbox aggregatetype {row.aggregatetype!r} is unknown"
        )
    try:
        return event_class.model_validate_json(row.payload)
    except ValidationError as exc:
        if exc.errors()[0]["type"] != "json_invalid":
            raise schema_mismatch(exc, "outbox payload") from None
        error = schema_mismatch(exc, "outbox payload")
    # pydantic's JSON reader refuses `\ud800`-style escapes (lone surrogates), Python's
    # reads them: read so, the publisher's checks name the field (UNSTORABLE_TEXT).
    try:
        return event_class.model_validate(json.loads(row.payload))
    except ValueError:  # not JSON either, or not the event (ValidationError)
        raise error from None


def acknowledged_in_order(rows: Sequence[OutboxRow], delivered: dict[int, bool]) -> list[int]:
    """Positions to mark sent: per aggregate, the acknowledged rows before its first miss."""
    blocked: set[str] = set()
    positions = []
    for row in rows:
        ok = delivered.get(row.position)
        if ok is None:  # refused: marked separately
            continue
        if row.aggregateid in blocked or not ok:
            blocked.add(row.aggregateid)
            continue
        positions.append(row.position)
    return positions


class _Produced(NamedTuple):
    delivered: dict[int, bool]  # position -> acknowledged, for every produced row
    refusals: list[tuple[int, str]]
    failures: list[DeliveryFailure]


def _produce(rows: Sequence[OutboxRow], publisher: Publisher, ack_timeout: float) -> _Produced:
    """Parse, check and produce `rows` as one batch, then wait for the broker's acks."""
    events = []
    positions = []
    refusals: list[tuple[int, str]] = []
    for row in rows:
        try:
            events.append(parse_row(row))
        except GovbusError as exc:
            refused(publisher.department, "unknown", exc, row.event_id)
            refusals.append((row.position, str(exc.code)))
            continue
        positions.append(row.position)
    batch = publisher.publish_many(events)  # refusals are counted and logged there
    failures = publisher.flush(ack_timeout)
    refused_indexes = set()
    for refusal in batch.refused:
        refused_indexes.add(refusal.index)
        refusals.append((positions[refusal.index], str(refusal.error.code)))
    # Unfinished (flush timed out): nothing counts as acknowledged, the rows stay unsent.
    settled = batch.done()
    failed_ids = {f.event_id for f in batch.failures}
    delivered = {
        positions[i]: settled and str(event.event_id) not in failed_ids
        for i, event in enumerate(events)
        if i not in refused_indexes
    }
    return _Produced(delivered, refusals, failures)


def _settle(store: OutboxStore, positions: list[int], refusals: list[tuple[int, str]]) -> None:
    """Mark the acknowledged and the refused rows, and commit (rolling back on error)."""
    try:
        store.mark_sent(positions)
        store.mark_refused(refusals)
        store.commit()
    except Exception:
        store.rollback()
        raise


def _count(
    stats: RelayStats,
    publisher: Publisher,
    produced: _Produced,
    positions: list[int],
) -> int:
    stats.cycles += 1
    stats.sent += len(positions)
    stats.refused += len(produced.refusals)
    for _, code in produced.refusals:
        stats.refusals_by_code[code] = stats.refusals_by_code.get(code, 0) + 1
    unsettled = len(produced.delivered) - len(positions)
    stats.failed += unsettled
    if unsettled:
        log.warning(
            "relay_batch_incomplete",
            department=publisher.department,
            unsettled=unsettled,
            failures=len(produced.failures),
        )
    return len(positions) + len(produced.refusals)


def relay_batch(
    store: OutboxStore,
    publisher: Publisher,
    stats: RelayStats,
    *,
    batch_size: int = 2000,
    ack_timeout: float = 30.0,
) -> int:
    """Publish one batch; returns how many rows it settled (sent or refused)."""
    rows = store.claim(batch_size)
    if not rows:
        store.commit()
        return 0
    produced = _produce(rows, publisher, ack_timeout)
    positions = acknowledged_in_order(rows, produced.delivered)
    _settle(store, positions, produced.refusals)
    return _count(stats, publisher, produced, positions)


def _relay_pipelined(
    sessions: tuple[OutboxStore, OutboxStore],
    publisher: Publisher,
    stats: RelayStats,
    stop: threading.Event,
    *,
    until_empty: bool,
    batch_size: int,
    idle_wait: float,
    retry_wait: float,
    ack_timeout: float = 30.0,
) -> None:
    """Two sessions in turn: while one batch is produced and acknowledged, a database
    thread marks the previous batch sent and claims the next one on the other session,
    with this batch's rows counted as in flight (they are produced first, so they hold
    nothing back). A batch with a failed row discards the next claim and backs off, so
    no later row of that aggregate is produced before it is sent again.
    """
    with ThreadPoolExecutor(1, thread_name_prefix="govbus-relay-db") as database:
        current = 0
        rows = sessions[current].claim(batch_size)
        pending: Future[None] | None = None  # the previous batch's marks, then its count
        counting: tuple[_Produced, list[int]] | None = None

        def collect() -> None:
            nonlocal pending, counting
            if pending is not None:
                pending.result()
                pending = None
            if counting is not None:
                _count(stats, publisher, *counting)
                counting = None

        while True:
            if not rows or stop.is_set():
                collect()
                sessions[current].rollback()  # nothing claimed, or stopping: release it
                if stop.is_set() or until_empty:
                    return
                sessions[0].wait(idle_wait)
                rows = sessions[current].claim(batch_size)
                continue
            other = 1 - current
            in_flight = [row.position for row in rows]
            claim_next = database.submit(sessions[other].claim, batch_size, in_flight)
            produced = _produce(rows, publisher, ack_timeout)
            collect()
            positions = acknowledged_in_order(rows, produced.delivered)
            if len(positions) < len(produced.delivered):
                claim_next.result()
                sessions[other].rollback()
                _settle(sessions[current], positions, produced.refusals)
                _count(stats, publisher, produced, positions)
                stop.wait(retry_wait)  # the broker is unwell: back off, rows stay unsent
                rows = sessions[current].claim(batch_size)
                continue
            pending = database.submit(_settle, sessions[current], positions, produced.refusals)
            counting = (produced, positions)
            rows = claim_next.result()
            current = other


def run_relay(
    store: OutboxStore,
    publisher: Publisher,
    *,
    stop: threading.Event | None = None,
    until_empty: bool = False,
    batch_size: int = 2000,
    idle_wait: float = 1.0,
    retry_wait: float = 1.0,
) -> RelayStats:
    """Relay until `stop` is set (or, with `until_empty`, until nothing is left to send)."""
    stop = stop or threading.Event()
    stats = RelayStats()
    log.info("relay_started", department=publisher.department, batch_size=batch_size)
    second = store.second_session()
    if second is not None:
        _relay_pipelined(
            (store, second),
            publisher,
            stats,
            stop,
            until_empty=until_empty,
            batch_size=batch_size,
            idle_wait=idle_wait,
            retry_wait=retry_wait,
        )
    while second is None and not stop.is_set():
        failed_before = stats.failed
        settled = relay_batch(store, publisher, stats, batch_size=batch_size)
        if stats.failed > failed_before:
            stop.wait(retry_wait)  # the broker is unwell: back off, rows stay unsent
        elif settled == 0:
            if until_empty:
                break
            store.wait(idle_wait)
    log.info(
        "relay_stopped",
        department=publisher.department,
        sent=stats.sent,
        refused=stats.refused,
        cycles=stats.cycles,
    )
    return stats
