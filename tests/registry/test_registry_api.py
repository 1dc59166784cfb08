"""The registry's HTTP API through confluent-kafka's own client and plain HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry.error import SchemaRegistryError

from govbus import SchemaRepository
from govbus._settings import REPO_ROOT
from tests.registry.conftest import ADMIN, DEPARTMENT, registry_client, serve_gateway

MEDIA_TYPE = "application/vnd.schemaregistry.v1+json"
REPO = SchemaRepository(REPO_ROOT / "schemas" / "avro")
LEGAL_V1 = REPO.versions("legal_entity_changed")[0].canonical
LEGAL_V2 = REPO.versions("legal_entity_changed")[1].canonical
SUBJECT = "govbus.base.legal-entity-value"


def _data_record(schema: dict[str, Any]) -> dict[str, Any]:
    data = next(f for f in schema["fields"] if f["name"] == "data")
    record: dict[str, Any] = next(t for t in data["type"] if isinstance(t, dict))
    return record


def _without_data_name(schema_text: str) -> str:
    schema = json.loads(schema_text)
    record = _data_record(schema)
    record["fields"] = [f for f in record["fields"] if f["name"] != "name"]
    return json.dumps(schema)


def _data_name_as_int(schema_text: str) -> str:
    schema = json.loads(schema_text)
    name = next(f for f in _data_record(schema)["fields"] if f["name"] == "name")
    name["type"] = ["null", "int"]
    return json.dumps(schema)


def _basic(credentials: str) -> tuple[str, str]:
    user, _, password = credentials.partition(":")
    return user, password


def test_register_lookup_and_fetch_by_id(registry_url: str) -> None:
    client = registry_client(registry_url)
    first = client.register_schema(SUBJECT, Schema(LEGAL_V1, "AVRO"))
    second = client.register_schema(SUBJECT, Schema(LEGAL_V2, "AVRO"))
    assert second != first
    assert client.get_versions(SUBJECT) == [1, 2]
    latest = client.get_latest_version(SUBJECT)
    assert (latest.version, latest.schema_id) == (2, second)
    found = client.lookup_schema(SUBJECT, Schema(LEGAL_V1, "AVRO"))
    assert (found.schema_id, found.version) == (first, 1)
    assert json.loads(client.get_schema(first).schema_str) == json.loads(LEGAL_V1)
    assert client.get_subjects() == [SUBJECT]


def test_same_schema_gets_same_id_in_every_subject(registry_url: str) -> None:
    client = registry_client(registry_url)
    first = client.register_schema("a-value", Schema(LEGAL_V1, "AVRO"))
    # Whitespace and key order do not make another schema.
    reformatted = json.dumps(json.loads(LEGAL_V1), indent=2, sort_keys=True)
    again = client.register_schema("b-value", Schema(reformatted, "AVRO"))
    assert again == first
    usages = httpx.get(
        f"{registry_url}/schemas/ids/{first}/versions", auth=_basic(DEPARTMENT)
    ).json()
    assert usages == [{"subject": "a-value", "version": 1}, {"subject": "b-value", "version": 1}]


def test_incompatible_registration_is_409_and_stores_nothing(registry_url: str) -> None:
    client = registry_client(registry_url)
    client.register_schema(SUBJECT, Schema(LEGAL_V2, "AVRO"))
    client.set_compatibility(SUBJECT, "FULL_TRANSITIVE")
    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema(SUBJECT, Schema(_data_name_as_int(LEGAL_V2), "AVRO"))
    assert refused.value.http_status_code == 409
    assert refused.value.error_code == 409
    assert "data.name" in refused.value.error_message
    assert SUBJECT not in refused.value.error_message  # path values are never echoed
    assert client.get_versions(SUBJECT) == [1]
    assert not client.test_compatibility(SUBJECT, Schema(_data_name_as_int(LEGAL_V2), "AVRO"))
    # Removing a field that has a default is fine, even at FULL_TRANSITIVE.
    assert client.test_compatibility(SUBJECT, Schema(_without_data_name(LEGAL_V2), "AVRO"))


def test_compatibility_endpoint_explains(registry_url: str) -> None:
    client = registry_client(registry_url)
    client.register_schema(SUBJECT, Schema(LEGAL_V1, "AVRO"))
    client.set_compatibility(SUBJECT, "FORWARD")
    response = httpx.post(
        f"{registry_url}/compatibility/subjects/{SUBJECT}/versions/latest?verbose=true",
        json={"schema": _without_data_name(LEGAL_V1)},
        auth=_basic(DEPARTMENT),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["is_compatible"] is True  # name has a default, so FORWARD is satisfied
    refused = httpx.post(
        f"{registry_url}/compatibility/subjects/{SUBJECT}/versions/1?verbose=true",
        json={"schema": _data_name_as_int(LEGAL_V1)},
        auth=_basic(DEPARTMENT),
    ).json()
    assert refused["is_compatible"] is False
    assert any(m.startswith("field data.name: ") for m in refused["messages"])


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", "/subjects/nope-value/versions", None, 404, 40401),
        ("GET", f"/subjects/{SUBJECT}/versions/7", None, 404, 40402),
        ("GET", f"/subjects/{SUBJECT}/versions/zero", None, 422, 42202),
        ("GET", f"/subjects/{SUBJECT}/versions/\u00b9", None, 422, 42202),  # a digit, not ASCII
        ("GET", "/schemas/ids/999", None, 404, 40403),
        ("POST", f"/subjects/{SUBJECT}/versions", {"schema": "{not json"}, 422, 42201),
        ("POST", f"/subjects/{SUBJECT}/versions", {"schema": '{"type": "recrd"}'}, 422, 42201),
        ("POST", f"/subjects/{SUBJECT}/versions", {"nothing": 1}, 422, 42201),
        ("POST", "/subjects/nope-value", {"schema": LEGAL_V1}, 404, 40401),
        ("PUT", "/config", {"compatibility": "SIDEWAYS"}, 422, 42203),
        ("GET", "/config/nope-value", None, 404, 40408),
    ],
)
def test_bad_requests_get_confluent_error_codes(
    registry_url: str, method: str, path: str, body: Any, status: int, code: int
) -> None:
    registry_client(registry_url).register_schema(SUBJECT, Schema(LEGAL_V1, "AVRO"))
    response = httpx.request(
        method, f"{registry_url}{path}", json=body, auth=_basic(ADMIN), timeout=10
    )
    assert response.status_code == status
    assert response.headers["content-type"].startswith(MEDIA_TYPE)
    assert response.json()["error_code"] == code
    assert response.json()["message"]


def test_unparseable_schema_says_what_is_wrong_without_the_subject(registry_url: str) -> None:
    with pytest.raises(SchemaRegistryError) as refused:
        registry_client(registry_url).register_schema("x-value", Schema('{"type": 1', "AVRO"))
    assert refused.value.error_code == 42201
    assert "not JSON" in refused.value.error_message
    assert "x-value" not in refused.value.error_message


def test_writes_need_catalog_admin(registry_url: str) -> None:
    department = registry_client(registry_url, DEPARTMENT)
    with pytest.raises(SchemaRegistryError) as refused:
        department.register_schema(SUBJECT, Schema(LEGAL_V1, "AVRO"))
    assert refused.value.http_status_code == 403
    assert refused.value.error_code == 40301
    with pytest.raises(SchemaRegistryError) as refused_config:
        department.set_compatibility(SUBJECT, "NONE")
    assert refused_config.value.http_status_code == 403
    assert registry_client(registry_url).get_subjects() == []
    # Reads are fine for any authenticated principal.
    assert department.get_subjects() == []


def test_unauthenticated_and_wrong_secret_are_401(registry_url: str) -> None:
    anonymous = httpx.get(f"{registry_url}/subjects")
    assert anonymous.status_code == 401
    assert anonymous.json()["error_code"] == 40101
    wrong = httpx.get(f"{registry_url}/subjects", auth=("psb", "not-the-secret"))
    assert wrong.status_code == 401
    assert "not-the-secret" not in wrong.text
    bearer = httpx.get(f"{registry_url}/subjects", headers={"Authorization": "Bearer psb.dev-psb"})
    assert bearer.status_code == 200


def test_ids_are_stable_across_restarts(gateway_db: str) -> None:
    with serve_gateway(gateway_db) as url:
        client = registry_client(url)
        ids = [
            client.register_schema(SUBJECT, Schema(LEGAL_V1, "AVRO")),
            client.register_schema(SUBJECT, Schema(LEGAL_V2, "AVRO")),
        ]
        client.set_compatibility(SUBJECT, "FULL_TRANSITIVE")
    with serve_gateway(gateway_db) as url:
        client = registry_client(url)
        assert [client.get_version(SUBJECT, v).schema_id for v in (1, 2)] == ids
        assert client.get_compatibility(SUBJECT) == "FULL_TRANSITIVE"
        person = REPO.versions("person_changed")[0].canonical
        assert client.register_schema("p-value", Schema(person, "AVRO")) == max(ids) + 1
