"""The pydantic change models mirror the Avro schemas: names, nullability and types."""

from __future__ import annotations

import types
import typing
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

import pytest

from govbus import EVENT_TYPES, ChangeEvent, SchemaRepository
from govbus._settings import REPO_ROOT

REPO = SchemaRepository(REPO_ROOT / "schemas" / "avro")
# (Avro type, logical type) -> the Python type the model must use.
PYTHON_TYPES: dict[tuple[str, str | None], type] = {
    ("string", None): str,
    ("long", None): int,
    ("int", "date"): date,
    ("long", "timestamp-micros"): datetime,
    ("bytes", "decimal"): Decimal,
    ("map", None): dict,
    ("array", None): tuple,
    ("enum", None): str,
}
ENVELOPE_OVERRIDES: dict[str, type] = {"event_id": uuid.UUID}  # a UUID carried as a string


def _avro(field_type: Any) -> tuple[bool, tuple[str, str | None]]:
    """(nullable, (type, logical type)) of an Avro field type."""
    if isinstance(field_type, list):
        rest = [t for t in field_type if t != "null"]
        assert len(rest) == 1, f"unexpected union {field_type}"
        return True, _avro(rest[0])[1]
    if isinstance(field_type, dict):
        return False, (field_type["type"], field_type.get("logicalType"))
    return False, (field_type, None)


def _python(annotation: Any) -> tuple[bool, type]:
    """(nullable, base type) of a model annotation; Literal[...] counts as its values' type."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        return type(None) in args, _python(rest[0])[1]
    if origin is Literal:
        return False, type(args[0])
    return False, origin or annotation


def _compare(schema_fields: list[dict[str, Any]], model_fields: dict[str, Any], where: str) -> None:
    assert [f["name"] for f in schema_fields] == list(model_fields), where
    for fld in schema_fields:
        nullable, avro_type = _avro(fld["type"])
        model_nullable, model_type = _python(model_fields[fld["name"]].annotation)
        if fld["name"] == "data":
            continue
        assert nullable == model_nullable, f"{where}.{fld['name']}: nullability differs"
        expected = ENVELOPE_OVERRIDES.get(fld["name"]) or PYTHON_TYPES[avro_type]
        assert model_type is expected, f"{where}.{fld['name']}: {model_type} vs {avro_type}"
        assert "default" in fld, f"{where}.{fld['name']}: no default, schemas could not evolve"


@pytest.mark.parametrize("event_type", list(EVENT_TYPES.values()), ids=lambda t: t.__name__)
def test_model_matches_latest_schema(event_type: type[ChangeEvent[Any]]) -> None:
    latest = REPO.latest(event_type.schema_name)
    definition = latest.definition
    assert definition["name"] == event_type.__name__
    _compare(definition["fields"], event_type.model_fields, latest.path.name)
    data = next(f for f in definition["fields"] if f["name"] == "data")
    assert data["type"][0] == "null" and data["default"] is None
    record = data["type"][1]
    assert record["name"] == event_type.data_model.__name__
    _compare(record["fields"], event_type.data_model.model_fields, f"{latest.path.name}: data")


def test_every_schema_has_an_event_model() -> None:
    assert sorted(t.schema_name for t in EVENT_TYPES.values()) == REPO.names()


def test_comparison_can_fail() -> None:
    # Guard against a vacuous comparison: a missing field must be noticed.
    latest = REPO.latest("person_changed").definition
    with pytest.raises(AssertionError):
        _compare(latest["fields"][:-1], EVENT_TYPES[next(iter(EVENT_TYPES))].model_fields, "x")
