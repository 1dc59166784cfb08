"""Typed change events from decoded Avro records without running pydantic per record.

`ChangeEvent.from_avro` validates with pydantic (two models, ~5 us). For a record the
Avro decoder produced against the reader schema, most of that is already guaranteed: the
fields are exactly the schema's, strings are str, dates are dates, the operation is one of
the enum's symbols. What is left (a canonical UUID, non-empty key and department, a
non-negative sequence, Literal codes, decimal digits) is checked here, and the instances
are built the way `model_construct` builds them (same `__dict__`, fields set, no extra or
private state), so they equal what pydantic returns.

Why not `model_construct` itself: it loops in Python over every field of both models
(aliases, defaults), ≈ 2.6× the cost of the whole build, and `model_copy(update=...)` of a
prototype ≈ 1.9× (CPU time per person event, best of 9, three runs: 5.5–6.5 µs here
against 14.1–19.4 and 10.4–14.4; docs/benchmarks.md, "Decoding"). Both would add 5–9 µs to
a record the sync decodes in ≈ 16. So the four slots pydantic's `BaseModel` declares are
set here, and only while they are exactly those four (`_PYDANTIC_SLOTS`): a pydantic that
adds one gets no builder, and `tests/core/test_avro_reader.py` compares every slot with
`model_construct`'s.

Whatever the fast checks do not accept exactly goes to `from_avro`, so pydantic still
decides every doubtful record and raises the same ValidationError. A model or schema this
module does not recognise (a new validator, field, type or constraint) gets no builder.
"""

from __future__ import annotations

import re
import types
import typing
import uuid
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from govbus._changes import ChangeEvent, _Data

Build = Callable[[dict[str, Any]], ChangeEvent[Any]]

_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
_ENVELOPE: dict[str, Any] = {
    "event_id": "string",
    "entity_key": "string",
    "source_department": "string",
    "source_sequence": "long",
    "occurred_at": {"type": "long", "logicalType": "timestamp-micros"},
}
_OPERATIONS = frozenset({"UPSERT", "DELETE"})
# What a model instance holds; the builder sets each of them (see the module's doc).
_PYDANTIC_SLOTS = (
    "__dict__",
    "__pydantic_fields_set__",
    "__pydantic_extra__",
    "__pydantic_private__",
)
_new = object.__new__
_set = object.__setattr__


class _NoBuilder(Exception):
    pass


def _plain(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: v for k, v in schema.items() if k in ("type", "logicalType")}
    return schema


def _null_branch(field_type: Any) -> Any:
    """T of a `["null", T]` union."""
    if not isinstance(field_type, list) or len(field_type) != 2 or "null" not in field_type:
        raise _NoBuilder
    return field_type[1 - field_type.index("null")]


def _optional(annotation: Any) -> Any:
    """T of `T | None`."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType) or len(args) != 2:
        raise _NoBuilder
    if type(None) not in args:
        raise _NoBuilder
    return args[0] if args[1] is type(None) else args[1]


def _model_is_plain(cls: type[Any], allowed_validators: frozenset[str] = frozenset()) -> None:
    decorators = cls.__pydantic_decorators__
    if (
        BaseModel.__slots__ != _PYDANTIC_SLOTS
        or set(decorators.field_validators) != allowed_validators
        or decorators.validators
        or decorators.root_validators
        or decorators.model_validators
        or cls.__private_attributes__
        or cls.__pydantic_post_init__
        or cls.__pydantic_root_model__
        or cls.model_config.get("extra") != "forbid"
    ):
        raise _NoBuilder


_DataCheck = tuple[str, frozenset[str] | None, int | None]
"""(field, allowed Literal values, max digits of a 2-place decimal)."""


def _data_checks(model: type[_Data], record: dict[str, Any]) -> list[_DataCheck]:
    _model_is_plain(model)
    fields = model.model_fields
    if [f["name"] for f in record["fields"]] != list(fields):
        raise _NoBuilder
    checks: list[_DataCheck] = []
    for fld in record["fields"]:
        info = fields[fld["name"]]
        if info.default is not None or info.default_factory is not None:
            raise _NoBuilder
        avro = _plain(_null_branch(fld["type"]))
        python = _optional(info.annotation)
        if avro == "string" and python is str and not info.metadata:
            continue
        if avro == {"type": "int", "logicalType": "date"} and python is date and not info.metadata:
            continue
        if avro == {"type": "map"} and python == dict[str, str] and not info.metadata:
            if _null_branch(fld["type"]).get("values") != "string":
                raise _NoBuilder
            continue
        if avro == "string" and typing.get_origin(python) is typing.Literal and not info.metadata:
            values = typing.get_args(python)
            if not all(isinstance(v, str) for v in values):
                raise _NoBuilder
            checks.append((fld["name"], frozenset(values), None))
            continue
        if avro == {"type": "bytes", "logicalType": "decimal"} and python is Decimal:
            decimal = _null_branch(fld["type"])
            limits = [
                (getattr(m, "max_digits", None), getattr(m, "decimal_places", None))
                for m in info.metadata
            ]
            if decimal.get("scale") != 2 or limits != [(limits[0][0], 2)] or limits[0][0] is None:
                raise _NoBuilder
            checks.append((fld["name"], None, int(limits[0][0]) - 2))
            continue
        raise _NoBuilder
    return checks


def compile_builder(event_cls: type[ChangeEvent[Any]], reader: Any) -> Build | None:
    """A builder of `event_cls` from records decoded with `reader` (parsed), or None."""
    try:
        return _compile(event_cls, reader)
    except (_NoBuilder, KeyError, TypeError, AttributeError, IndexError):
        return None


def _compile(event_cls: type[ChangeEvent[Any]], reader: Any) -> Build:
    _model_is_plain(event_cls, frozenset({"_aware"}))
    fields = {f["name"]: f for f in reader["fields"]}
    names = list(event_cls.model_fields)
    if list(fields) != names or names[:5] != list(_ENVELOPE):
        raise _NoBuilder
    for name, avro in _ENVELOPE.items():
        if _plain(fields[name]["type"]) != avro:
            raise _NoBuilder
    operation = fields["operation"]["type"]
    changed = fields["changed_fields"]["type"]
    if (
        operation.get("type") != "enum"
        or not set(operation["symbols"]) <= _OPERATIONS
        or _plain(changed) != {"type": "array"}
        or changed.get("items") != "string"
        or names[5:] != ["operation", "changed_fields", "data"]
    ):
        raise _NoBuilder
    data_record = _null_branch(fields["data"]["type"])
    data_cls = event_cls.data_model
    checks = _data_checks(data_cls, data_record)
    literals = [(name, allowed) for name, allowed, _ in checks if allowed is not None]
    decimals = [(name, digits) for name, _, digits in checks if digits is not None]
    data_names = frozenset(data_cls.model_fields)
    event_names = frozenset(names)
    slow = event_cls.from_avro
    canonical_uuid = _CANONICAL_UUID.match
    make_uuid = uuid.UUID

    def build(record: dict[str, Any]) -> ChangeEvent[Any]:
        event_id = record["event_id"]
        if (
            not record["entity_key"]
            or not record["source_department"]
            or record["source_sequence"] < 0
            or canonical_uuid(event_id) is None
        ):
            return slow(record)
        data = record["data"]
        if data is not None:
            for name, allowed in literals:
                value = data[name]
                if value is not None and value not in allowed:
                    return slow(record)
            for name, max_digits in decimals:
                value = data[name]
                if value is not None:
                    digits = value.as_tuple()
                    if digits.exponent != -2 or len(digits.digits) > max_digits:
                        return slow(record)
            data_obj = _new(data_cls)
            _set(data_obj, "__dict__", data)
            _set(data_obj, "__pydantic_fields_set__", set(data_names))
            _set(data_obj, "__pydantic_extra__", None)
            _set(data_obj, "__pydantic_private__", None)
            data = data_obj
        event = _new(event_cls)
        _set(
            event,
            "__dict__",
            {
                "event_id": make_uuid(event_id),
                "entity_key": record["entity_key"],
                "source_department": record["source_department"],
                "source_sequence": record["source_sequence"],
                "occurred_at": record["occurred_at"],
                "operation": record["operation"],
                "changed_fields": tuple(record["changed_fields"]),
                "data": data,
            },
        )
        _set(event, "__pydantic_fields_set__", set(event_names))
        _set(event, "__pydantic_extra__", None)
        _set(event, "__pydantic_private__", None)
        return event

    return build
