"""Flat records (a JSON object, a CSV row) to typed change events.

Shared by file ingestion and the HTTP gateway. Reserved keys: `entity_key` and
`source_sequence` (required), `operation` (UPSERT or DELETE), `occurred_at`, `event_id`;
every other key is a data field, or they come nested under `data`. A CSV's empty cells
are fields left untouched. Errors name fields, never their values.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError

from govbus import EVENT_TYPES, ChangeEvent, ErrorCode, GovbusError, Resource, schema_mismatch

RESERVED = frozenset({"entity_key", "source_sequence", "operation", "occurred_at", "event_id"})
DEFAULT_ENTITY_KEY = "entity_key"


def event_from_record(
    resource: Resource,
    department: str,
    record: dict[str, Any],
    *,
    event_id: uuid.UUID | None = None,
    what: str = "record",
    drop_empty: bool = False,
) -> ChangeEvent[Any]:
    """Build the resource's typed event; raises GovbusError (SCHEMA_MISMATCH, ...)."""
    event_class = EVENT_TYPES[resource.entity]
    nested = record.get("data")
    if nested is not None and not isinstance(nested, dict):
        raise GovbusError(
            ErrorCode.SCHEMA_MISMATCH, f"{what}: data must be an object", field="data"
        )
    data_fields = dict(nested or {})
    envelope: dict[str, Any] = {}
    for name, value in record.items():
        if name == "data":
            continue
        if drop_empty and (value is None or value == ""):
            continue
        if name in RESERVED:
            envelope[name] = value
        else:
            data_fields[name] = value
    if "entity_key" not in envelope:
        raise GovbusError(
            ErrorCode.SCHEMA_MISMATCH, f"{what}: entity_key is missing", field="entity_key"
        )
    operation = str(envelope.get("operation") or "UPSERT").upper()
    fields: dict[str, Any] = {
        "entity_key": envelope["entity_key"],
        "source_department": department,
        "source_sequence": envelope.get("source_sequence"),
        "operation": operation,
    }
    if event_id is not None:
        fields["event_id"] = event_id
    elif envelope.get("event_id"):
        fields["event_id"] = envelope["event_id"]
    if envelope.get("occurred_at"):
        fields["occurred_at"] = envelope["occurred_at"]
    try:
        if operation == "UPSERT":
            data = event_class.data_model.model_validate(data_fields)
            fields["data"] = data
            fields["changed_fields"] = tuple(sorted(data.model_fields_set))
        elif data_fields:
            raise GovbusError(ErrorCode.SCHEMA_MISMATCH, f"{what}: a DELETE carries no data fields")
        return event_class.model_validate(fields)
    except ValidationError as exc:
        raise schema_mismatch(exc, what) from None
