"""The compiled Avro readers and event builder give exactly fastavro's and pydantic's results,
and refuse what they refuse (the same error codes through `Contract.decode`)."""

import io
import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
import pytest
from pydantic import BaseModel, ValidationError

from govbus import (
    EVENT_TYPES,
    ChangeEvent,
    Contract,
    ErrorCode,
    GovbusError,
    LegalEntityChanged,
    LegalEntityData,
    PersonChanged,
    PersonData,
    SchemaRepository,
    Settings,
    encode_confluent,
    load_contract,
)
from govbus._avro_reader import compile_reader
from govbus._event_builder import compile_builder
from tests.event_corpus import CITIZEN_ID, EVENTS, LICENCE, event_id

SCHEMAS = SchemaRepository(Path(__file__).parents[2] / "schemas" / "avro")


def fastavro_read(payload: bytes, writer: Any, reader: Any) -> Any:
    return fastavro.schemaless_reader(io.BytesIO(payload), writer, reader)


def fastavro_bytes(schema: Any, record: Any) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema, record)
    return out.getvalue()


def avro_record(event: ChangeEvent[Any], fields: list[str]) -> dict[str, Any]:
    record = event.to_avro()
    if record["data"] is not None:
        record["data"] = {k: v for k, v in record["data"].items() if k in fields}
    return record


@pytest.mark.parametrize("event", EVENTS, ids=event_id)
def test_change_events_read_as_fastavro_reads_them(event: ChangeEvent[Any]) -> None:
    versions = SCHEMAS.versions(event.schema_name)
    reader = versions[-1].parsed
    for version in versions:
        if event.data is not None and not set(event.changed_fields) <= set(
            version.data_field_names()
        ):
            continue
        payload = fastavro_bytes(version.parsed, avro_record(event, version.data_field_names()))
        read = compile_reader(version.parsed, reader)
        assert read is not None, version.path
        value, end = read(payload, 0)
        assert end == len(payload)
        assert value == fastavro_read(payload, version.parsed, reader)
        assert list(value) == [f["name"] for f in reader["fields"]]
        built = compile_builder(type(event), reader)
        assert built is not None
        assert built(value) == event == type(event).from_avro(value)


@pytest.mark.parametrize(
    "value", [0, -1, 1, 63, -64, 64, -65, 8191, 8192, (1 << 63) - 1, -(1 << 63)]
)
def test_longs_match_fastavro(value: int) -> None:
    schema = fastavro.parse_schema(
        {"type": "record", "name": "R", "fields": [{"name": "n", "type": "long"}]}
    )
    read = compile_reader(schema)
    assert read is not None
    assert read(fastavro_bytes(schema, {"n": value}), 0) == (
        {"n": value},
        len(fastavro_bytes(schema, {"n": value})),
    )


def test_blocks_with_byte_sizes_are_read() -> None:
    """Arrays and maps may come in blocks; a negative count is followed by a byte size."""
    schema = fastavro.parse_schema(
        {
            "type": "record",
            "name": "R",
            "fields": [
                {"name": "a", "type": {"type": "array", "items": "long"}},
                {"name": "m", "type": {"type": "map", "values": "string"}},
            ],
        }
    )
    # a: block of -2 items (2 bytes), block of 1, end; m: block of 1, end
    payload = bytes([3, 2, 4, 6, 2, 8, 0, 2, 2, ord("k"), 2, ord("v"), 0])
    read = compile_reader(schema)
    assert read is not None
    assert read(payload, 0) == (fastavro_read(payload, schema, schema), len(payload))
    assert read(payload, 0)[0] == {"a": [2, 3, 4], "m": {"k": "v"}}


STRING_RECORD = {"type": "record", "name": "R", "fields": [{"name": "s", "type": "string"}]}


@pytest.mark.parametrize(
    ("schema", "payload", "error"),
    [
        (STRING_RECORD, b"\x06ab", EOFError),  # length 3, two bytes
        (STRING_RECORD, b"\x01", EOFError),  # negative length
        (STRING_RECORD, b"\x04\xff\xfe", UnicodeDecodeError),
        (STRING_RECORD, b"\xff" * 11, ValueError),  # varint longer than a long
        (STRING_RECORD, b"", IndexError),
        (
            {"type": "record", "name": "R", "fields": [{"name": "u", "type": ["null", "long"]}]},
            b"\x04",
            ValueError,
        ),
        (
            {
                "type": "record",
                "name": "R",
                "fields": [{"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A"]}}],
            },
            b"\x02",
            IndexError,
        ),
        (
            {
                "type": "record",
                "name": "R",
                "fields": [{"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A"]}}],
            },
            b"\x01",
            ValueError,
        ),
    ],
)
def test_bad_bodies_raise(schema: Any, payload: bytes, error: type[Exception]) -> None:
    read = compile_reader(fastavro.parse_schema(schema))
    assert read is not None
    with pytest.raises(error):
        read(payload, 0)


def test_every_truncation_of_a_change_event_raises() -> None:
    parsed = SCHEMAS.latest("certificate_changed").parsed
    payload = fastavro_bytes(parsed, LICENCE.to_avro())
    read = compile_reader(parsed)
    assert read is not None
    for end in range(len(payload)):
        with pytest.raises((IndexError, EOFError, ValueError)):
            read(payload[:end], 0)


@pytest.mark.parametrize(
    ("writer", "reader"),
    [
        (["int", "string"], None),
        ({"type": "fixed", "name": "F", "size": 4}, None),
        ("double", None),
        ("boolean", None),
        ({"type": "record", "name": "R", "fields": [{"name": "f", "type": "Other"}]}, None),
        ("int", "long"),  # promotion
        (  # a missing field whose default is not null
            {"type": "record", "name": "R", "fields": []},
            {
                "type": "record",
                "name": "R",
                "fields": [{"name": "f", "type": "long", "default": 1}],
            },
        ),
        (
            {"type": "record", "name": "R", "fields": []},
            {"type": "record", "name": "R", "fields": [], "aliases": ["Q"]},
        ),
    ],
)
def test_unsupported_schemas_stay_on_fastavro(writer: Any, reader: Any) -> None:
    assert compile_reader(writer, reader) is None


# --- through Contract.decode: the same events and the same errors as before -------------


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract(Settings(schemas_dir=Path(__file__).parents[2] / "schemas"))


def wire(contract: Contract, event: ChangeEvent[Any], record: dict[str, Any]) -> bytes:
    resource = contract.catalog.resources_on_topic(topic_of(contract, event))[0]
    version = contract.latest_schema(resource)
    schema_id = contract.resolver.id_for(resource.subject, version)
    capital = (record["data"] or {}).get("registered_capital")
    if capital is None or len(capital.as_tuple().digits) <= 20:
        return encode_confluent(schema_id, version.parsed, record)
    # fastavro refuses to write more digits than the schema's precision: write the same
    # bytes (the big-endian unscaled value) through a schema without the logical type.
    definition = json.loads(
        json.dumps(version.definition).replace('"logicalType": "decimal", ', "")
    )
    unscaled = int(capital.scaleb(2))
    data = {**record["data"], "registered_capital": unscaled.to_bytes(16, "big", signed=True)}
    return encode_confluent(schema_id, fastavro.parse_schema(definition), {**record, "data": data})


def topic_of(contract: Contract, event: ChangeEvent[Any]) -> str:
    return next(r.topic for r in contract.catalog.resources if r.entity is event.entity)


@pytest.mark.parametrize("event", EVENTS, ids=event_id)
def test_decoded_events_equal_the_validated_ones(
    contract: Contract, event: ChangeEvent[Any]
) -> None:
    payload = wire(contract, event, event.to_avro())
    for _ in range(2):  # first through the checks, then the kept decoder
        decoded = contract.decode(topic_of(contract, event), payload)
        assert type(decoded) is type(event)
        assert decoded == event
        assert decoded.model_fields_set == event.model_validate(event.model_dump()).model_fields_set
        assert decoded.model_dump() == event.model_dump()
        if event.data is not None:
            assert decoded.data is not None
            assert decoded.data.model_fields_set == set(type(event.data).model_fields)


def _slots(model: BaseModel) -> dict[str, Any]:
    return {slot: getattr(model, slot) for slot in BaseModel.__slots__}


@pytest.mark.parametrize("event", EVENTS, ids=event_id)
def test_built_events_hold_what_model_construct_gives(event: ChangeEvent[Any]) -> None:
    """The builder sets pydantic's slots itself (see `govbus._event_builder`): every slot
    `BaseModel` declares, today's or a later pydantic's, must equal `model_construct`'s."""
    reader = SCHEMAS.latest(event.schema_name).parsed
    build = compile_builder(type(event), reader)
    assert build is not None
    record = fastavro_read(fastavro_bytes(reader, event.to_avro()), reader, reader)
    built = build(record)
    data = None
    if event.data is not None:
        data = type(event.data).model_construct(**record["data"])
        assert built.data is not None
        assert _slots(built.data) == _slots(data)
    fields = {**record, "event_id": uuid.UUID(record["event_id"]), "data": data}
    fields["changed_fields"] = tuple(record["changed_fields"])
    assert _slots(built) == _slots(type(event).model_construct(**fields))


def _bad(record: dict[str, Any], **changes: Any) -> dict[str, Any]:
    data = changes.pop("data", None)
    out = {**record, **changes}
    if data is not None:
        out["data"] = {**record["data"], **data}
    return out


PERSON = PersonChanged.upsert(
    department="PSB", key=CITIZEN_ID, sequence=1, data=PersonData(name="张三", sex="1")
)
COMPANY = LegalEntityChanged.upsert(
    department="AMR",
    key="91110000600037341L",
    sequence=1,
    data=LegalEntityData(registered_capital=Decimal("1.00")),
)


@pytest.mark.parametrize(
    ("event", "changes"),
    [
        (PERSON, {"entity_key": ""}),
        (PERSON, {"source_department": ""}),
        (PERSON, {"source_sequence": -1}),
        (PERSON, {"event_id": "not-a-uuid"}),
        (PERSON, {"event_id": ""}),
        (PERSON, {"data": {"sex": "X"}}),
        (PERSON, {"operation": "DELETE", "data": {"sex": "3"}}),
        (COMPANY, {"data": {"registered_capital": Decimal("123456789012345678901.00")}}),
        (COMPANY, {"data": {"status": "asleep"}}),
    ],
)
def test_what_pydantic_refuses_is_still_refused(
    contract: Contract, event: ChangeEvent[Any], changes: dict[str, Any]
) -> None:
    record = _bad(event.to_avro(), **changes)
    payload = wire(contract, event, record)
    with pytest.raises(ValidationError):
        type(event).from_avro(
            fastavro_read(
                payload[5:],
                *[
                    contract.latest_schema(
                        contract.catalog.resources_on_topic(topic_of(contract, event))[0]
                    ).parsed
                ]
                * 2,
            )
        )
    for _ in range(2):
        with pytest.raises(ValidationError):
            contract.decode(topic_of(contract, event), payload)


@pytest.mark.parametrize(
    "event_id",
    [
        "{12345678-1234-5678-1234-567812345678}",
        "12345678123456781234567812345678",
        "12345678-1234-5678-1234-56781234567A",
    ],
)
def test_other_uuid_spellings_get_pydantics_verdict(contract: Contract, event_id: str) -> None:
    record = _bad(PERSON.to_avro(), event_id=event_id)
    payload = wire(contract, PERSON, record)
    try:
        expected: Any = PersonChanged.from_avro(record)
    except ValidationError:
        with pytest.raises(ValidationError):
            contract.decode(topic_of(contract, PERSON), payload)
    else:
        assert contract.decode(topic_of(contract, PERSON), payload) == expected


def test_older_writer_versions_resolve(contract: Contract) -> None:
    v1 = SCHEMAS.versions("legal_entity_changed")[0]
    record = avro_record(COMPANY, v1.data_field_names())
    schema_id = contract.resolver.id_for("govbus.base.legal-entity-value", v1)
    payload = encode_confluent(schema_id, v1.parsed, record)
    assert contract.decode(topic_of(contract, COMPANY), payload) == COMPANY
    for broken in (payload[:-1], payload + b"\x00"):
        with pytest.raises(GovbusError) as info:
            contract.decode(topic_of(contract, COMPANY), broken)
        assert info.value.code is ErrorCode.MALFORMED_PAYLOAD


def test_every_event_type_has_a_builder() -> None:
    for event_cls in EVENT_TYPES.values():
        assert compile_builder(event_cls, SCHEMAS.latest(event_cls.schema_name).parsed)


def test_a_pydantic_with_other_slots_gets_no_builder(monkeypatch: pytest.MonkeyPatch) -> None:
    from govbus import _event_builder

    later = (*BaseModel.__slots__, "__pydantic_later__")
    monkeypatch.setattr(_event_builder, "_PYDANTIC_SLOTS", later)
    reader = SCHEMAS.latest("person_changed").parsed
    assert compile_builder(PersonChanged, reader) is None
