"""The outbox relay: publish committed outbox rows, then mark them sent.

One cycle: claim rows, parse and check each, produce them, wait for the broker's acks,
mark the acknowledged ones, commit. A crash before the commit leaves the rows unsent, so
they are published again: at-least-once, and the event id lets consumers drop duplicates.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from pydantic import ValidationError

from govbus import EVENT_TYPES, ErrorCode, GovbusError, schema_mismatch
from producers._delivery import DeliveryResult
from producers._outbox_store import OutboxRow, OutboxStore
from producers._publisher import Publisher, refused

log = structlog.get_logger("govbus.relay")

# Test hook: after the broker acknowledged the first batch and before it is marked sent,
# touch this file and hang (the crash test SIGKILLs the relay there).
PAUSE_AFTER_ACK_ENV = "GOVBUS_RELAY_TEST_PAUSE_AFTER_ACK"


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
        raise schema_mismatch(exc, "outbox payload") from None


def acknowledged_in_order(
    rows: Sequence[OutboxRow], results: dict[int, DeliveryResult]
) -> list[int]:
    """Positions to mark sent: per aggregate, the acknowledged rows before its first miss."""
    blocked: set[str] = set()
    positions = []
    for row in rows:
        result = results.get(row.position)
        if result is None:  # refused: marked separately
            continue
        if row.aggregateid in blocked or not result.succeeded():
            blocked.add(row.aggregateid)
            continue
        positions.append(row.position)
    return positions


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
    results: dict[int, DeliveryResult] = {}
    refusals: list[tuple[int, str]] = []
    for row in rows:
        try:
            event = parse_row(row)
        except GovbusError as exc:
            refused(publisher.department, "unknown", exc, row.event_id)
            refusals.append((row.position, str(exc.code)))
            continue
        try:
            results[row.position] = publisher.send(publisher.prepare(event))
        except GovbusError as exc:  # counted and logged by the publisher
            refusals.append((row.position, str(exc.code)))
    failures = publisher.flush(ack_timeout)
    _pause_if_asked(stats)
    positions = acknowledged_in_order(rows, results)
    try:
        store.mark_sent(positions)
        store.mark_refused(refusals)
        store.commit()
    except Exception:
        store.rollback()
        raise
    stats.cycles += 1
    stats.sent += len(positions)
    stats.refused += len(refusals)
    for _, code in refusals:
        stats.refusals_by_code[code] = stats.refusals_by_code.get(code, 0) + 1
    unsettled = len(results) - len(positions)
    stats.failed += unsettled
    if unsettled:
        log.warning(
            "relay_batch_incomplete",
            department=publisher.department,
            unsettled=unsettled,
            failures=len(failures),
        )
    return len(positions) + len(refusals)


def _pause_if_asked(stats: RelayStats) -> None:
    marker = os.environ.get(PAUSE_AFTER_ACK_ENV)
    if marker and stats.cycles == 0:
        Path(marker).write_text(str(os.getpid()))
        while True:
            time.sleep(3600)


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
    while not stop.is_set():
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
