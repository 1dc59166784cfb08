"""File ingestion for legacy systems: JSON Lines or CSV in, events out, rejects kept.

Event ids are uuid5(file content hash, line number): rerunning the same file produces
the same ids, so a rerun after a crash only yields duplicates consumers drop.

Bytes that are not UTF-8 are read as lone surrogates (`surrogateescape`): the line is
refused with UNSTORABLE_TEXT like any text the store cannot hold, and the file goes on.
"""

from __future__ import annotations

import csv
import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from govbus import (
    EntityKind,
    ErrorCode,
    GovbusError,
    Resource,
    event_problems,
    resource_for_event,
    unstorable_part,
    validate_citizen_id,
    validate_uscc,
)
from govbus.producers._batch import BatchDelivery
from govbus.producers._publisher import Publisher, refused
from govbus.producers._records import event_from_record

_BATCH_LINES = 2000
_KEY_VALIDATORS: dict[EntityKind, Callable[..., str]] = {
    EntityKind.PERSON: validate_citizen_id,
    EntityKind.LEGAL_ENTITY: validate_uscc,
}
FILE_EVENT_NAMESPACE = uuid.UUID("6f1d8a52-3f1c-5e0a-9a57-2b6c0e8f4d10")


@dataclass(frozen=True, slots=True)
class SourceLine:
    number: int
    record: dict[str, Any] | None
    raw: str


@dataclass
class IngestSummary:
    published: int = 0
    rejected: int = 0
    not_acknowledged: int = 0
    rejected_by_code: Counter[str] = field(default_factory=Counter)
    rejects_path: Path | None = None


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def line_event_id(digest: str, line_number: int) -> uuid.UUID:
    return uuid.uuid5(FILE_EVENT_NAMESPACE, f"{digest}:{line_number}")


def read_jsonl(handle: TextIO) -> Iterator[SourceLine]:
    for number, line in enumerate(handle, start=1):
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError:
            record = None
        yield SourceLine(number, record if isinstance(record, dict) else None, text)


def read_csv(handle: TextIO) -> Iterator[SourceLine]:
    reader = csv.DictReader(handle)
    for row in reader:
        extra = row.pop(None, None)
        raw = json.dumps(row, ensure_ascii=False)
        yield SourceLine(reader.line_num, None if extra else dict(row), raw)


def read_lines(path: Path, handle: TextIO) -> Iterator[SourceLine]:
    if path.suffix.lower() == ".csv":
        return read_csv(handle)
    return read_jsonl(handle)


def reject_entry(
    line: SourceLine, error: GovbusError, problems: Sequence[GovbusError] = ()
) -> dict[str, Any]:
    """One rejects-file line: the department's own record, with the line and the reasons.

    `code`, `field` are the first problem's; `problems` lists every one when there are more,
    and `message` joins them, so one fix-up pass can mend the whole line.
    """
    every = _distinct([error, *problems])
    entry: dict[str, Any] = {
        "line": line.number,
        "code": str(error.code),
        "message": "; ".join(p.message for p in every),
    }
    if error.field:
        entry["field"] = error.field
    if len(every) > 1:
        entry["problems"] = [
            {"code": str(p.code), "message": p.message} | ({"field": p.field} if p.field else {})
            for p in every
        ]
    entry["record"] = line.record if line.record is not None else line.raw
    return entry


def reject_line(entry: dict[str, Any]) -> str:
    """A rejects-file line; text with lone surrogates is written \\u-escaped, as UTF-8 has
    no bytes for it (the JSON still reads back to the same text)."""
    text = json.dumps(entry, ensure_ascii=False)
    return text if unstorable_part(text) is None else json.dumps(entry)


def _distinct(problems: Sequence[GovbusError]) -> list[GovbusError]:
    """One per (code, field): the native and Python checks may both report the first."""
    seen: set[tuple[str, str | None]] = set()
    out = []
    for problem in problems:
        key = (str(problem.code), problem.field)
        if key not in seen:
            seen.add(key)
            out.append(problem)
    return out


def record_problems(
    resource: Resource, department: str, record: dict[str, Any]
) -> list[GovbusError]:
    """What can still be checked in a record that is no event (its schema failed): the
    key's identifier and the authority of the fields it sets."""
    problems: list[GovbusError] = []
    key = record.get("entity_key")
    validate = _KEY_VALIDATORS.get(resource.entity)
    if isinstance(key, str) and validate is not None:
        try:
            validate(key, field="entity_key")
        except GovbusError as exc:
            problems.append(exc)
    nested = record.get("data")
    data: dict[str, Any] = nested if isinstance(nested, dict) else record
    for name in data:
        spec = resource.fields_by_name.get(name)
        if spec is not None and spec.authority != department:
            problems.append(
                GovbusError(
                    ErrorCode.NOT_AUTHORITATIVE,
                    f"field {name} of {resource.code} is sourced from {spec.authority}, "
                    f"not {department}",
                    field=name,
                )
            )
    return problems


def ingest_file(
    path: Path,
    publisher: Publisher,
    resource: Resource,
    rejects_path: Path,
    *,
    on_line: Callable[[int], None] = lambda _bytes: None,
    ack_timeout: float = 60.0,
) -> IngestSummary:
    """Publish every valid line, write the others to `rejects_path`; wait for all acks.

    Lines go out in batches (`Publisher.publish_many`): one delivery handle per batch, so
    memory stays flat however long the file is.
    """
    summary = IngestSummary()
    digest = file_digest(path)
    is_csv = path.suffix.lower() == ".csv"
    batches: list[BatchDelivery] = []
    rejects: list[tuple[int, str]] = []  # (line number, rejects-file line)
    pending: list[tuple[SourceLine, Any]] = []

    catalog = publisher.contract.catalog

    def reject(line: SourceLine, exc: GovbusError, problems: Sequence[GovbusError] = ()) -> None:
        summary.rejected += 1
        summary.rejected_by_code[str(exc.code)] += 1
        entry = reject_entry(line, exc, problems)
        rejects.append((line.number, reject_line(entry)))

    def publish_pending() -> None:
        batch = publisher.publish_many([event for _, event in pending])
        for refusal in batch.refused:  # counted and logged by the publisher
            line, event = pending[refusal.index]
            reject(line, refusal.error, event_problems(catalog, event))
        batches.append(batch)
        pending.clear()

    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        for line in read_lines(path, handle):
            on_line(len(line.raw) + 1)
            try:
                pending.append((line, line_event(line, publisher, resource, digest, is_csv)))
            except GovbusError as exc:
                more = record_problems(resource, publisher.department, line.record or {})
                reject(line, exc, more if exc.code is ErrorCode.SCHEMA_MISMATCH else ())
            if len(pending) >= _BATCH_LINES:
                publish_pending()
    if pending:
        publish_pending()
    publisher.flush(ack_timeout)
    produced = sum(batch.produced for batch in batches)
    summary.published = sum(batch.tracker.delivered for batch in batches)
    summary.not_acknowledged = produced - summary.published
    if summary.rejected:
        rejects.sort(key=lambda entry: entry[0])
        rejects_path.write_text("".join(text + "\n" for _, text in rejects), encoding="utf-8")
        summary.rejects_path = rejects_path
    return summary


def line_event(
    line: SourceLine, publisher: Publisher, resource: Resource, digest: str, is_csv: bool
) -> Any:
    what = f"line {line.number}"
    try:
        if line.record is None:
            raise GovbusError(
                ErrorCode.MALFORMED_PAYLOAD,
                f"{what} is not a JSON object" if not is_csv else f"{what} has extra cells",
            )
        event = event_from_record(
            resource,
            publisher.department,
            line.record,
            event_id=line_event_id(digest, line.number),
            what=what,
            drop_empty=is_csv,
        )
        actual = resource_for_event(publisher.contract.catalog, event)
        if actual.code != resource.code:
            raise GovbusError(
                ErrorCode.UNKNOWN_RESOURCE,
                f"{what} belongs to resource {actual.code}, not {resource.code}",
                field="entity_key",
            )
    except GovbusError as exc:
        refused(publisher.department, resource.code, exc, None)
        raise
    return event
