"""View schemas and records, the wanted views and the views file (no broker)."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Any

import fastavro
import pytest

from govbus import (
    Catalog,
    Contract,
    GovbusError,
    PersonChanged,
    grant_disclosure,
    read_views_file,
    view_policies,
    view_topic_name,
    write_views_file,
)
from govbus.consumers._view_projection import make_view
from govbus.consumers.testing import certificate, citizen_id, person

KEY = citizen_id(1)


def person_view(contract: Contract, fields: tuple[str, ...]) -> Any:
    resource = contract.catalog.resource("BR-PERSON")
    policy = grant_disclosure(resource, fields)
    return make_view(policy, contract.latest_schema(resource).definition, "p.")


def as_base_record(contract: Contract, event: Any) -> dict[str, Any]:
    """The event as the projector reads it: encoded, then decoded by fastavro."""
    resource = contract.catalog.resource_for_entity(event.entity, None)
    schema = contract.latest_schema(resource).parsed
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema, event.to_avro())
    out.seek(0)
    record: dict[str, Any] = fastavro.schemaless_reader(out, schema, schema)
    return record


def test_view_schema_has_only_delivered_fields_masked_as_strings(contract: Contract) -> None:
    view = person_view(contract, ("name", "marital_status", "birth_date"))
    data = next(f for f in view.schema["fields"] if f["name"] == "data")
    record = next(t for t in data["type"] if isinstance(t, dict))
    types = {f["name"]: f["type"] for f in record["fields"]}
    assert sorted(types) == ["birth_date", "marital_status", "name"]
    assert types["birth_date"] == ["null", "string"]  # a masked date is its masked text
    assert types["marital_status"] == ["null", "string"]  # shown: the base type
    assert view.topic == "p." + view.policy.view_topic
    assert view.subject == view.topic + "-value"
    assert view.base_topic == "p.govbus.base.person"
    fastavro.parse_schema(view.schema)  # a valid Avro schema


def test_record_projection_masks_filters_and_skips(contract: Contract) -> None:
    view = person_view(contract, ("name", "birth_date"))
    event = person(KEY, 1, "PSB", name="张三丰", birth_date=date(1980, 5, 17), sex="1")
    projected = view.project(as_base_record(contract, event))
    assert projected is not None
    assert projected["event_id"] == str(event.event_id)
    assert projected["changed_fields"] == ["birth_date", "name"]
    assert projected["entity_key"] == KEY[:6] + "*" * 8 + KEY[-4:]
    name, data = projected["data"]
    assert name.endswith(".PersonData")
    assert data == {"birth_date": "1980******", "name": "张**"}  # no sex: not granted
    parsed = fastavro.parse_schema(view.schema)
    out = io.BytesIO()
    fastavro.schemaless_writer(out, parsed, projected)  # fits the view schema

    untouched = person(KEY, 2, "CAB", marital_status="20")
    assert view.project(as_base_record(contract, untouched)) is None
    deleted = PersonChanged.delete(department="PSB", key=KEY, sequence=3)
    gone = view.project(as_base_record(contract, deleted))
    assert gone is not None and gone["operation"] == "DELETE" and gone["data"] is None


def test_certificate_views_take_only_their_licence_type(contract: Contract) -> None:
    marriage = contract.catalog.resource("EC-MARRIAGE")
    policy = grant_disclosure(marriage, ("status",))
    view = make_view(policy, contract.latest_schema(marriage).definition)
    licence = next(
        r for r in contract.catalog.resources if r.entity == "certificate" and r != marriage
    )
    own = certificate(str(marriage.licence_type_code), "M1", 1, "CAB", status="valid")
    other = certificate(
        str(licence.licence_type_code), "X1", 1, str(licence.provider), status="valid"
    )
    schema = contract.latest_schema(marriage).parsed

    def record(event: Any) -> dict[str, Any]:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, schema, event.to_avro())
        out.seek(0)
        decoded: dict[str, Any] = fastavro.schemaless_reader(out, schema, schema)
        return decoded

    assert view.project(record(own)) is not None
    assert view.project(record(other)) is None


def test_grants_sharing_a_field_set_share_a_view(catalog: Catalog) -> None:
    views = view_policies(
        catalog,
        [
            ("BR-PERSON", ["name"]),
            ("BR-PERSON", ["name", "id_number"]),  # the key is implied: the same view
            ("BR-PERSON", ["name", "sex"]),
            ("BR-LEGAL-ENTITY", [f.name for f in catalog.resource("BR-LEGAL-ENTITY").fields]),
        ],
    )
    topics = [v.view_topic for v in views]
    assert len(topics) == len(set(topics))
    person_topics = [t for t in topics if t.startswith("govbus.view.br-person.")]
    assert len(person_topics) == 2
    policy = grant_disclosure(catalog.resource("BR-PERSON"), ["name"])
    assert policy.view_topic == view_topic_name("BR-PERSON", policy.view_signature)
    assert policy.view_topic in topics
    full = grant_disclosure(
        catalog.resource("BR-LEGAL-ENTITY"),
        [f.name for f in catalog.resource("BR-LEGAL-ENTITY").fields],
    )
    assert full.reads_raw_topic == (full.view_topic not in topics)


def test_views_file_round_trip_and_bad_file(catalog: Catalog, tmp_path: Path) -> None:
    path = tmp_path / "views.json"
    write_views_file(path, [("BR-PERSON", ["name", "marital_status"]), ("BR-PERSON", ["name"])])
    topics = [p.view_topic for p in read_views_file(catalog, path)]
    assert topics == sorted(
        {
            grant_disclosure(catalog.resource("BR-PERSON"), f).view_topic
            for f in (["name", "marital_status"], ["name"])
        }
    )
    path.write_text('{"views": [{"resource": "BR-PERSON"}]}')
    with pytest.raises(GovbusError) as refused:
        read_views_file(catalog, path)
    assert refused.value.code == "INVALID_SETTING"
