"""The compiled Avro writers write exactly fastavro's bytes, and refuse what it refuses."""

import io
from pathlib import Path
from typing import Any

import fastavro
import pytest

from govbus import (
    ChangeEvent,
    SchemaRepository,
)
from govbus._avro_writer import compile_writer
from govbus._contract import data_record_name
from tests.event_corpus import EVENTS, event_id

SCHEMAS = SchemaRepository(Path(__file__).parents[2] / "schemas" / "avro")


def fastavro_bytes(schema: Any, record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return out.getvalue()


def compiled_bytes(schema: Any, record: dict[str, Any]) -> bytes:
    write = compile_writer(schema)
    assert write is not None
    out = bytearray()
    write(out, record)
    return bytes(out)


@pytest.mark.parametrize("event", EVENTS, ids=event_id)
def test_change_events_encode_to_fastavro_bytes(event: ChangeEvent[Any]) -> None:
    for version in SCHEMAS.versions(event.schema_name):
        if event.data is not None and not set(event.changed_fields) <= set(
            version.data_field_names()
        ):
            continue
        record = event.to_avro()
        named = dict(record)
        if named["data"] is not None:
            named["data"] = (data_record_name(version), named["data"])
        assert compiled_bytes(version.definition, record) == fastavro_bytes(
            version.definition, named
        )


@pytest.mark.parametrize(
    "value", [0, -1, 1, 63, -64, 64, -65, 8191, 8192, (1 << 63) - 1, -(1 << 63)]
)
def test_longs_match_fastavro(value: int) -> None:
    schema = {"type": "record", "name": "R", "fields": [{"name": "n", "type": "long"}]}
    assert compiled_bytes(schema, {"n": value}) == fastavro_bytes(schema, {"n": value})


def test_long_strings_match_fastavro() -> None:
    schema = {"type": "record", "name": "R", "fields": [{"name": "s", "type": "string"}]}
    for size in (0, 63, 64, 65, 10_000):
        record = {"s": "a" * size}
        assert compiled_bytes(schema, record) == fastavro_bytes(schema, record)


@pytest.mark.parametrize(
    ("field_type", "value", "error"),
    [
        ("long", 1 << 63, ValueError),
        ("int", 1 << 31, ValueError),
        ("long", "1", TypeError),
        ("string", 1, AttributeError),
        (["null", "string"], 1, AttributeError),
        ({"type": "enum", "name": "E", "symbols": ["A"]}, "B", KeyError),
        ("boolean", 1, TypeError),
    ],
)
def test_mismatches_raise(field_type: Any, value: Any, error: type[Exception]) -> None:
    write = compile_writer(
        {"type": "record", "name": "R", "fields": [{"name": "f", "type": field_type}]}
    )
    assert write is not None
    with pytest.raises(error):
        write(bytearray(), {"f": value})


def test_a_missing_required_field_is_refused() -> None:
    write = compile_writer(
        {"type": "record", "name": "R", "fields": [{"name": "f", "type": "long"}]}
    )
    assert write is not None
    with pytest.raises(ValueError, match="no value"):
        write(bytearray(), {})


@pytest.mark.parametrize(
    "schema",
    [
        ["int", "string"],
        {"type": "fixed", "name": "F", "size": 4},
        "double",
        {"type": "record", "name": "R", "fields": [{"name": "f", "type": "Other"}]},
    ],
)
def test_unsupported_schemas_stay_on_fastavro(schema: Any) -> None:
    assert compile_writer(schema) is None
