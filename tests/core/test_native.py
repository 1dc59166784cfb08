"""The native hot paths (`native/`, Rust) give exactly the Python paths' results.

The native encoder reads change-event models directly; its bytes must equal fastavro's
for the model's Avro dict, for every schema version, for any event pydantic accepts.
"""

import io
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
import pytest
from fastavro.write import LOGICAL_WRITERS
from hypothesis import given, settings
from hypothesis import strategies as st

from govbus import (
    CertificateChanged,
    CertificateData,
    ChangeEvent,
    LegalEntityChanged,
    LegalEntityData,
    PersonChanged,
    PersonData,
    SchemaRepository,
    Settings,
)
from govbus._contract import data_record_name
from govbus._identifiers import pseudonymize
from govbus._native import compile_native_encoder, native_available, native_pseudonymizer
from govbus._schemas import SchemaVersion

SCHEMAS = SchemaRepository(Path(__file__).parents[2] / "schemas" / "avro")
HEADER = b"\x00\x00\x00\x00\x07"

pytestmark = pytest.mark.skipif(not Settings().native, reason="native paths switched off")


def test_the_native_module_is_built() -> None:
    # `make setup` builds it; a missing build would silently fall back to Python.
    assert native_available(Settings())
    assert not native_available(Settings(native=False))


def fastavro_bytes(version: SchemaVersion, event: ChangeEvent[Any]) -> bytes:
    record = event.to_avro()
    if record["data"] is not None:
        record["data"] = (data_record_name(version), record["data"])
    out = io.BytesIO()
    fastavro.schemaless_writer(out, version.parsed, record)
    return HEADER + out.getvalue()


def native_bytes(definition: Any, value: Any) -> bytes:
    encoder = compile_native_encoder(definition)
    assert encoder is not None
    return encoder.encode(value, HEADER)


def versions_for(event: ChangeEvent[Any]) -> list[SchemaVersion]:
    """The schema versions that can carry every field the event sets."""
    return [
        v
        for v in SCHEMAS.versions(event.schema_name)
        if event.data is None or set(event.changed_fields) <= set(v.data_field_names())
    ]


def assert_same_bytes(event: ChangeEvent[Any]) -> None:
    versions = versions_for(event)
    assert versions
    for version in versions:
        expected = fastavro_bytes(version, event)
        assert native_bytes(version.definition, event) == expected
        assert native_bytes(version.definition, event.to_avro()) == expected


# -- strategies: any event pydantic accepts -------------------------------------------

texts = st.none() | st.text(st.characters(exclude_categories=["Cs"]), max_size=80)
dates = st.none() | st.dates()
moments = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.none() | st.just(UTC) | st.timezones(),
)
sequences = st.integers(min_value=0, max_value=(1 << 63) - 1)


def events(data_model: type[Any], event_cls: type[ChangeEvent[Any]], data: Any) -> Any:
    return st.builds(
        lambda fields, seq, when, eid, op: event_cls(
            event_id=eid,
            entity_key="k",
            source_department="D",
            source_sequence=seq,
            occurred_at=when,
            operation=op,
            changed_fields=tuple(sorted(fields)),
            data=None if op == "DELETE" else data_model(**fields),
        ),
        data,
        sequences,
        moments,
        st.uuids(),
        st.sampled_from(["UPSERT", "DELETE"]),
    )


person_data = st.fixed_dictionaries(
    {},
    optional={
        "name": texts,
        "sex": st.none() | st.sampled_from(["0", "1", "2", "9"]),
        "birth_date": dates,
        "household_address": texts,
        "phone": texts,
        "death_date": dates,
    },
)
legal_entity_data = st.fixed_dictionaries(
    {},
    optional={
        "name": texts,
        "registered_capital": st.none()
        | st.decimals(
            min_value=Decimal("-999999999999999999.99"),
            max_value=Decimal("999999999999999999.99"),
            places=2,
            allow_nan=False,
            allow_infinity=False,
        ),
        "establishment_date": dates,
        "status": st.none() | st.sampled_from(["active", "revoked", "deregistered"]),
        "tax_credit_rating": st.none() | st.sampled_from(["A", "B", "M", "C", "D"]),
    },
)
certificate_data = st.fixed_dictionaries(
    {},
    optional={
        "licence_type_code": texts,
        "holder_type": st.none() | st.sampled_from(["person", "legal_entity"]),
        "valid_from": dates,
        "valid_to": dates,
        "attributes": st.none() | st.dictionaries(st.text(max_size=10), st.text(max_size=30)),
    },
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        events(PersonData, PersonChanged, person_data),
        events(LegalEntityData, LegalEntityChanged, legal_entity_data),
        events(CertificateData, CertificateChanged, certificate_data),
    )
)
def test_any_event_encodes_to_fastavro_bytes(event: ChangeEvent[Any]) -> None:
    assert_same_bytes(event)


def test_a_fixed_offset_and_a_pre_epoch_moment() -> None:
    for when in (
        datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=8))),
        datetime(1900, 3, 1, 0, 0, 0, 1, tzinfo=timezone(timedelta(hours=-3, minutes=-30))),
        datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    ):
        assert_same_bytes(
            PersonChanged.upsert(
                department="PSB",
                key="11010519491231002X",
                sequence=1,
                occurred_at=when,
                data=PersonData(birth_date=date(1, 1, 1), death_date=date(9999, 12, 31)),
            )
        )


# -- values outside the models: the converters and the refusals -------------------------


def record_schema(field_type: Any) -> dict[str, Any]:
    return {"type": "record", "name": "R", "fields": [{"name": "f", "type": field_type}]}


def plain_fastavro(schema: Any, record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return HEADER + out.getvalue()


@pytest.mark.parametrize(
    ("field_type", "value"),
    [
        ({"type": "long", "logicalType": "timestamp-micros"}, datetime(2001, 2, 3, 4, 5, 6, 7)),
        ({"type": "long", "logicalType": "timestamp-micros"}, -5),
        ({"type": "long", "logicalType": "timestamp-millis"}, datetime(2001, 2, 3, tzinfo=UTC)),
        ({"type": "int", "logicalType": "date"}, "2020-02-29"),
        ({"type": "int", "logicalType": "date"}, datetime(2020, 2, 29, 23, 0)),
        ({"type": "int", "logicalType": "date"}, 18_000),
        ({"type": "string", "logicalType": "uuid"}, uuid.UUID(int=1)),
        ({"type": "long", "logicalType": "unknown-to-fastavro"}, 3),
        (
            {"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 2},
            Decimal("-1234.5"),
        ),
        ({"type": "array", "items": "long"}, [1, -1, 1 << 40]),
        ({"type": "map", "values": ["null", "string"]}, {"a": None, "b": "x"}),
        ("bytes", b"\x00\xff"),
        ("boolean", False),
        (["string", "null"], "tail null"),
        (["string", "null"], None),
    ],
)
def test_other_values_match_fastavro(field_type: Any, value: Any) -> None:
    schema = record_schema(field_type)
    assert native_bytes(schema, {"f": value}) == plain_fastavro(schema, {"f": value})


def test_defaults_fill_missing_fields() -> None:
    schema = {
        "type": "record",
        "name": "R",
        "fields": [
            {"name": "s", "type": "string", "default": "x"},
            {"name": "a", "type": {"type": "array", "items": "string"}, "default": []},
            {"name": "n", "type": ["null", "long"]},
        ],
    }
    assert native_bytes(schema, {}) == plain_fastavro(schema, {})


@pytest.mark.parametrize(
    ("field_type", "value"),
    [
        ("long", 1 << 63),
        ("long", -(1 << 63) - 1),
        ("int", 1 << 31),
        ("long", "1"),
        ("long", 1.0),
        ("string", 1),
        ("string", b"bytes"),
        ("string", "\ud800"),
        (["null", "string"], 1),
        ({"type": "enum", "name": "E", "symbols": ["A"]}, "B"),
        ({"type": "enum", "name": "E", "symbols": ["A"]}, 0),
        ("boolean", 1),
        ("null", 0),
        ("bytes", "text"),
        ({"type": "array", "items": "string"}, "abc"),
        ({"type": "map", "values": "string"}, {1: "a"}),
        ({"type": "int", "logicalType": "date"}, "not a date"),
    ],
)
def test_mismatches_raise_what_the_publisher_catches(field_type: Any, value: Any) -> None:
    encoder = compile_native_encoder(record_schema(field_type))
    assert encoder is not None
    with pytest.raises((ValueError, TypeError, KeyError, AttributeError)):
        encoder.encode({"f": value}, HEADER)


def test_a_missing_required_field_is_refused() -> None:
    with pytest.raises(ValueError, match="no value and no default for f"):
        native_bytes(record_schema("long"), {})


@pytest.mark.parametrize(
    "schema",
    [
        ["int", "string"],
        ["null", "int", "string"],
        {"type": "fixed", "name": "F", "size": 4},
        "double",
        {"type": "record", "name": "R", "fields": [{"name": "f", "type": "Other"}]},
        {"type": {"type": "string"}},
    ],
)
def test_unsupported_schemas_stay_on_python(schema: Any) -> None:
    assert compile_native_encoder(schema) is None
    assert LOGICAL_WRITERS  # the converters the native encoder is given


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=100), st.text(max_size=40))
def test_pseudonyms_match_hmac(key: bytes, value: str) -> None:
    pseudonymizer = native_pseudonymizer(key)
    assert pseudonymizer is not None
    assert pseudonymizer(value) == pseudonymize(value, key)
