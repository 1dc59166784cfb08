"""HTTP hygiene of the gateway: versions, subject names, body caps, 405, no echoed path values,
and the OpenAPI document. In-process (TestClient); the access log is in test_access_log.py."""

from __future__ import annotations

import asyncio
import base64
import json
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message

from govbus.gateway._app import create_app
from govbus.gateway._settings import GatewaySettings

ADMIN = ("registry-admin", "dev-registry-admin")
BANK = ("bank01", "dev-bank01")
CITIZEN_ID = "11010519491231002X"
MEDIA_TYPE = "application/vnd.schemaregistry.v1+json"
SCHEMA = json.dumps({"type": "record", "name": "R", "fields": [{"name": "a", "type": "string"}]})


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp: Path = tmp_path_factory.mktemp("http-rules")
    app = create_app(GatewaySettings(gateway_db=f"sqlite:///{tmp / 'gateway.db'}"))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        assert register(test_client, "rules-value").status_code == 200
        yield test_client


def register(client: TestClient, subject: str, schema: str = SCHEMA) -> object:
    return client.post(
        f"/subjects/{quote(subject, safe='')}/versions", json={"schema": schema}, auth=ADMIN
    )


# -- versions: ASCII digits, -1 and `latest` only ----------------------------------------


@pytest.mark.parametrize("version", ["1", "latest", "-1", "0001"])
def test_ascii_versions_and_latest_are_served(client: TestClient, version: str) -> None:
    response = client.get(f"/subjects/rules-value/versions/{version}", auth=BANK)
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 1


@pytest.mark.parametrize(
    "version",
    ["²", "١", "１", "߁", "1" * 4301, "9" * 5000, "1" * 11, "2147483648", "0", "1.0", "+1", " 1"],
)
def test_other_versions_are_42202_never_a_5xx(client: TestClient, version: str) -> None:
    for suffix in ("", "/schema"):
        response = client.get(f"/subjects/rules-value/versions/{quote(version)}{suffix}", auth=BANK)
        assert response.status_code == 422, (version[:20], response.status_code)
        assert response.json()["error_code"] == 42202
        if len(version) > 3:  # a digit or two is in the message anyway
            assert version not in response.json()["message"]
    response = client.post(
        f"/compatibility/subjects/rules-value/versions/{quote(version)}",
        json={"schema": SCHEMA},
        auth=BANK,
    )
    assert response.status_code == 422 and response.json()["error_code"] == 42202


# -- subject names: NFC, no control or format characters ---------------------------------


def test_subjects_that_look_the_same_are_the_same_subject(client: TestClient) -> None:
    nfc = "caf\u00e9-value"
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfc != nfd
    first = register(client, nfd)
    assert first.status_code == 200
    assert nfc in client.get("/subjects", auth=BANK).json()
    assert nfd not in client.get("/subjects", auth=BANK).json()
    found = client.get(f"/subjects/{quote(nfc)}/versions/latest", auth=BANK)
    assert found.status_code == 200 and found.json()["subject"] == nfc
    fields = [{"name": "a", "type": "string"}, {"name": "b", "type": "string", "default": ""}]
    other = json.dumps({"type": "record", "name": "R", "fields": fields})
    assert register(client, nfc, other).status_code == 200
    assert client.get(f"/subjects/{quote(nfd)}/versions", auth=BANK).json() == [1, 2]


@pytest.mark.parametrize(
    "subject",
    [
        "rules\u200b-value",  # zero-width space
        "\u202erules-value",  # right-to-left override
        "rules\u2066-value",  # left-to-right isolate
        "rules\ufeff-value",  # byte-order mark (zero-width no-break space)
        "rules\u00ad-value",  # soft hyphen
        "rules\x00-value",
        "rules\x7f-value",
        "rules\u2028-value",  # line separator
        "x" * 256,
    ],
)
def test_subjects_with_invisible_characters_are_refused(client: TestClient, subject: str) -> None:
    refused = register(client, subject)
    assert refused.status_code == 422
    assert refused.json()["error_code"] == 42208
    looked_up = client.get(f"/subjects/{quote(subject, safe='')}/versions", auth=BANK)
    assert looked_up.status_code == 422 and looked_up.json()["error_code"] == 42208
    assert "rules" not in refused.json()["message"]


# -- error messages never echo path values ---------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        f"/subjects/{CITIZEN_ID}/versions",
        f"/subjects/{CITIZEN_ID}/versions/latest",
        f"/subjects/{CITIZEN_ID}/versions/{CITIZEN_ID}",
        f"/subjects/rules-value/versions/{CITIZEN_ID}",
        f"/config/{CITIZEN_ID}",
        f"/schemas/ids/{CITIZEN_ID}",
        f"/v1/catalog/{CITIZEN_ID}",
        f"/v1/persons/{CITIZEN_ID}/nothing-here",
    ],
)
def test_refusals_do_not_echo_path_values(client: TestClient, path: str) -> None:
    response = client.get(path, auth=BANK)
    assert 400 <= response.status_code < 500
    assert CITIZEN_ID not in response.text
    assert response.json()["error_code"]


def test_posted_refusals_do_not_echo_the_subject(client: TestClient) -> None:
    for path, body in [
        (f"/subjects/{CITIZEN_ID}", {"schema": SCHEMA}),
        (f"/subjects/{CITIZEN_ID}/versions", {"schema": "{"}),
        (f"/compatibility/subjects/{CITIZEN_ID}/versions", {"schema": SCHEMA}),
        (f"/subjects/{CITIZEN_ID}/versions", {"schema": SCHEMA, "references": [{}]}),
    ]:
        response = client.post(path, json=body, auth=ADMIN)
        assert 400 <= response.status_code < 500, path
        assert CITIZEN_ID not in response.text, path
    level = client.put("/config", json={"compatibility": CITIZEN_ID}, auth=ADMIN)
    assert level.status_code == 422 and CITIZEN_ID not in level.text


# -- body caps -----------------------------------------------------------------------------


def test_a_20_mb_schema_registration_is_refused_with_413(client: TestClient) -> None:
    big = json.dumps({"type": "record", "name": "Big", "doc": "x" * 20_000_000, "fields": []})
    response = register(client, "big-value", big)
    assert response.status_code == 413
    assert response.json()["error_code"] == 41301  # Confluent-style on registry routes
    assert response.headers["content-type"].startswith(MEDIA_TYPE)
    assert client.get("/subjects/big-value/versions", auth=BANK).status_code == 404


def test_a_chunked_body_is_stopped_once_past_the_cap(client: TestClient) -> None:
    """At the ASGI level, to count what the app pulled: a 25 MB chunked body is refused after
    a little over the 1 MiB cap is read, not after all of it."""
    chunk, chunks = b"x" * 64_000, 400
    pulled = 0
    sent: list[Message] = []
    auth = base64.b64encode(b"registry-admin:dev-registry-admin")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/subjects/chunked-value/versions",
        "raw_path": b"/subjects/chunked-value/versions",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"transfer-encoding", b"chunked"),
            (b"authorization", b"Basic " + auth),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "state": {},
    }

    async def receive() -> Message:
        nonlocal pulled
        pulled += 1
        if pulled > chunks:
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(client.app(scope, receive, send))  # type: ignore[arg-type]
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert start["status"] == 413
    assert json.loads(body)["error_code"] == 41301
    assert pulled <= 1024 * 1024 // len(chunk) + 2, pulled


def test_a_body_longer_than_its_content_length_is_stopped(client: TestClient) -> None:
    body = json.dumps({"events": [{"data": {"name": "x" * 5_000_000}}]}).encode()
    response = client.post(
        "/v1/events",
        content=body,
        headers={"content-type": "application/json", "content-length": "12"},
        auth=("psb", "dev-psb"),
    )
    assert response.status_code == 413
    assert response.json()["error_code"] == "PAYLOAD_TOO_LARGE"


def test_bodies_under_the_cap_are_read(client: TestClient) -> None:
    doc = json.dumps({"type": "record", "name": "Mid", "doc": "x" * 500_000, "fields": []})
    assert register(client, "mid-value", doc).status_code == 200
    small = client.put("/config/mid-value", json={"compatibility": "FULL"}, auth=ADMIN)
    assert small.status_code == 200
    large = client.put(
        "/config/mid-value", json={"compatibility": "FULL", "pad": "x" * 5000}, auth=ADMIN
    )
    assert large.status_code == 413


# -- 405 with Allow --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/subjects/rules-value/versions", {"GET", "HEAD", "POST"}),
        ("PUT", "/v1/catalog", {"GET", "HEAD"}),
        ("GET", "/v1/events", {"POST"}),
        ("POST", "/config", {"GET", "HEAD", "PUT"}),
    ],
)
def test_405_carries_allow(client: TestClient, method: str, path: str, allowed: set[str]) -> None:
    response = client.request(method, path, auth=BANK)
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == allowed
    assert response.json()["error_code"] in ("METHOD_NOT_ALLOWED", 405)


# -- the OpenAPI document ----------------------------------------------------------------------


def test_openapi_documents_statuses_media_type_and_security(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert {s["scheme"] for s in schemes.values()} == {"basic", "bearer"}
    assert document["security"]
    paths = document["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            assert {"401", "422", "429"} <= statuses, (method, path, statuses)
            if "requestBody" in operation:  # a route that reads no body cannot hit a cap
                assert "413" in statuses, (method, path)
            if path.startswith(("/subjects", "/schemas", "/config", "/compatibility")):
                for status, response in operation["responses"].items():
                    if status != "204":
                        assert MEDIA_TYPE in response["content"], (method, path, status)
    register_op = paths["/subjects/{subject}/versions"]["post"]["responses"]
    assert {"200", "401", "403", "409", "413", "422"} <= set(register_op)
    assert "404" in paths["/v1/catalog/{resource}"]["get"]["responses"]
    assert "404" in paths["/subjects/{subject}/versions/{version}"]["get"]["responses"]
    assert "Retry-After" in paths["/v1/catalog"]["get"]["responses"]["429"]["headers"]
    assert {"403", "413", "503"} <= set(paths["/v1/events"]["post"]["responses"])


def test_an_anonymous_caller_is_401_before_the_subject_is_judged(client: TestClient) -> None:
    invisible = quote("a\u200bb")
    response = client.get(f"/subjects/{invisible}/versions")
    assert response.status_code == 401
    assert response.json()["error_code"] == 40101
