"""Where each entity kind lives in the store, and the type of each of its columns.

Columns are derived from the typed data models, which mirror the Avro schemas the catalog
checks; a migration that forgets a column fails loudly at the first write.
"""

from __future__ import annotations

import types
import typing
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import cache

from govbus import EVENT_TYPES, EntityKind

RECORD_FIELD = "_record"
"""Pseudo-field whose provenance says which event last created, deleted or restored a record."""

KEY_FIELD = "_key"
"""Pseudo-field whose columns carry a key-authority upsert's stamp into the merge statement
when no field does (`govbus.consumers._merge_sql`), for the restore of a deleted record. Written
on insert only, never read, not shown as provenance."""

TABLES: dict[EntityKind, str] = {
    EntityKind.PERSON: "persons",
    EntityKind.LEGAL_ENTITY: "legal_entities",
    EntityKind.CERTIFICATE: "certificates",
}


class ColumnType(StrEnum):
    TEXT = "text"
    DATE = "date"
    NUMERIC = "numeric"
    JSON = "json"


def _column_type(annotation: object) -> ColumnType:
    args = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else ()
    inner = [a for a in args if a is not type(None)] or [annotation]
    first = inner[0]
    if first is date:
        return ColumnType.DATE
    if first is Decimal:
        return ColumnType.NUMERIC
    if typing.get_origin(first) is dict:
        return ColumnType.JSON
    return ColumnType.TEXT


@cache
def columns(kind: EntityKind) -> dict[str, ColumnType]:
    """The data columns of an entity table, in schema order, with their types."""
    model = EVENT_TYPES[kind].data_model
    return {name: _column_type(f.annotation) for name, f in model.model_fields.items()}
