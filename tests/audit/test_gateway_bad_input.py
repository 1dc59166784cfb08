"""Bounded fuzz of every gateway route: bad input is a 4xx with a machine-readable code.

Routes are read from the app's OpenAPI document, so a route added later is fuzzed too. Hypothesis
generates path parameters, bodies (malformed JSON, wrong types, huge strings, unknown
fields, event-shaped batches), content types and authorization headers. No broker: the
ingest route's producer is an in-memory one, so accepted batches answer at once.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govbus import load_contract
from govbus.gateway._app import create_app
from govbus.gateway._ingest import IngestState
from govbus.gateway._settings import GatewaySettings
from govbus.producers.testing import InMemoryProducer

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FUZZ_ROUTES = settings(FUZZ, max_examples=250)  # 17 routes: ~15 examples each
CITIZEN_ID = "11010519491231002X"
ADMIN = ("registry-admin", "dev-registry-admin")
PSB = ("psb", "dev-psb")
_PARAM = re.compile(r"\{([^}]+)\}")


def _basic(name: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{name}:{secret}".encode()).decode()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp: Path = tmp_path_factory.mktemp("gateway-fuzz")
    gateway_settings = GatewaySettings(
        bootstrap_servers="127.0.0.1:1",
        gateway_db=f"sqlite:///{tmp / 'gateway.db'}",
        # Fuzzed credentials are not a brute force: the rate limits have tests of their own.
        gateway_auth_failures_burst=10**6,
        gateway_rate_burst=10**6,
    )
    app = create_app(gateway_settings)
    ingest = IngestState(gateway_settings, ack_timeout=1.0)
    ingest._contract = load_contract(gateway_settings)
    ingest._producer = InMemoryProducer()
    app.state.ingest = ingest
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def routes(client: TestClient) -> list[tuple[str, str]]:
    """Every operation of the app's OpenAPI document, and the health check."""
    paths = client.get("/openapi.json").json()["paths"]
    found = [(method.upper(), path) for path, ops in paths.items() for method in ops]
    assert ("POST", "/v1/events") in found and len(found) >= 17, found  # + 16 registry ops
    return [*found, ("GET", "/healthz")]


# -- strategies ------------------------------------------------------------------------

path_values = st.one_of(
    st.sampled_from(["-1", "0", "1", str(2**31), str(2**40), str(2**70), "abc", "latest"]),
    st.sampled_from(["-1.5", "1e9", "%00", "..", " ", "x" * 2000, CITIZEN_ID]),
    st.text(min_size=1, max_size=40),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["x" * 70_000, CITIZEN_ID, "13912345678", "\u0000", "NaN", "1e400"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
event_shaped = st.fixed_dictionaries(
    {},
    optional={
        "resource": st.one_of(
            st.sampled_from(["BR-PERSON", "BR-LEGAL-ENTITY", "EC-MARRIAGE", "NOPE"]), json_values
        ),
        "entity": st.one_of(st.sampled_from(["person", "legal_entity", "certificate"]), scalars),
        "entity_key": st.one_of(
            st.sampled_from([CITIZEN_ID, "91110000100000000A", "11100000000000000B:M1"]), scalars
        ),
        "source_sequence": st.one_of(st.integers(min_value=-1, max_value=2**70), scalars),
        "operation": st.one_of(st.sampled_from(["UPSERT", "DELETE", "upsert"]), scalars),
        "occurred_at": st.one_of(
            st.sampled_from(["0001-01-01T00:00:00", "9999-12-31T23:59:59-14:00", "yesterday"]),
            scalars,
        ),
        "event_id": st.one_of(st.uuids().map(str), scalars),
        "data": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "name": scalars,
                    "sex": scalars,
                    "phone": scalars,
                    "birth_date": scalars,
                    "holder_id": scalars,
                    "holder_type": scalars,
                    "attributes": json_values,
                    "registered_capital": scalars,
                },
            ),
            json_values,
        ),
        "unknown_field": json_values,
    },
)
json_bodies = st.one_of(
    st.fixed_dictionaries({"events": st.lists(event_shaped, max_size=3)}),
    st.fixed_dictionaries(
        {},
        optional={
            "schema": st.one_of(
                st.sampled_from(['"string"', '{"type":"enum","name":"e"}', "[" * 5000]),
                json_values,
            ),
            "schemaType": st.one_of(st.just("AVRO"), scalars),
            "references": json_values,
            "compatibility": st.one_of(st.sampled_from(["BACKWARD", "FULL_TRANSITIVE"]), scalars),
        },
    ),
    json_values,
)
raw_bodies = st.one_of(
    json_bodies.map(lambda body: json.dumps(body).encode()),
    st.binary(max_size=200),
    st.sampled_from([b"", b"{", b"\xff\xfe{}", b'{"events": [', b"[" * 50_000, b"null"]),
)
content_types = st.sampled_from(
    [
        "application/json",
        "application/vnd.schemaregistry.v1+json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin-1",
        "",
    ]
)
auth_headers = st.one_of(
    st.sampled_from(
        [_basic(*ADMIN), _basic(*PSB), "Bearer registry-admin.dev-registry-admin", "Bearer psb."]
    ),
    st.sampled_from(["Basic !!!", "Basic QQ==", "Bearer", "Digest x", "Basic " + "A" * 5000]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=60),
    st.none(),
)


def fill_path(template: str, values: list[str]) -> str:
    parts = iter(values)
    return _PARAM.sub(lambda _m: quote(next(parts), safe=""), template)


def assert_clean_refusal(response: Any, what: str) -> None:
    assert response.status_code < 500, (what, response.status_code, response.text[:500])
    assert "Traceback" not in response.text, what
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict) and body.get("error_code") not in (None, ""), (what, body)
        assert isinstance(body.get("message"), str), (what, body)


# -- the fuzz ----------------------------------------------------------------------------


@FUZZ_ROUTES
@given(data=st.data())
def test_no_route_answers_bad_input_with_a_5xx(client: TestClient, data: st.DataObject) -> None:
    method, template = data.draw(st.sampled_from(routes(client)), label="route")
    params = _PARAM.findall(template)
    path = fill_path(template, [data.draw(path_values, label=p) for p in params])
    if data.draw(st.booleans(), label="with query"):
        path += "?verbose=" + quote(data.draw(st.text(max_size=8))) + "&defaultToGlobal=x"
    headers: dict[bytes, bytes] = {}
    auth = data.draw(auth_headers, label="authorization")
    if auth is not None:
        headers[b"authorization"] = auth.encode("latin-1")  # HTTP header bytes, not ASCII only
    content: bytes | None = None
    if method in {"POST", "PUT"}:
        content = data.draw(raw_bodies, label="body")
        headers[b"content-type"] = data.draw(content_types, label="content type").encode()
    response = client.request(method, path, content=content, headers=headers)
    assert_clean_refusal(response, f"{method} {path[:120]}")


@FUZZ
@given(body=json_bodies, principal=st.sampled_from([PSB, ADMIN, ("amr", "dev-amr")]))
def test_event_batches_of_any_shape_are_accepted_or_refused_with_a_code(
    client: TestClient, body: Any, principal: tuple[str, str]
) -> None:
    response = client.post("/v1/events", json=body, auth=principal)
    assert_clean_refusal(response, f"POST /v1/events {json.dumps(body)[:200]}")
    assert CITIZEN_ID not in response.text and "13912345678" not in response.text


@FUZZ
@given(schema=json_values, schema_type=st.one_of(st.just("AVRO"), scalars))
def test_schema_registrations_of_any_shape_are_refused_with_a_confluent_code(
    client: TestClient, schema: Any, schema_type: Any
) -> None:
    text = schema if isinstance(schema, str) else json.dumps(schema)
    body = {"schema": text, "schemaType": schema_type}
    for path in ("/subjects/fuzz-value/versions", "/compatibility/subjects/fuzz-value/versions"):
        response = client.post(path, json=body, auth=ADMIN)
        assert_clean_refusal(response, f"POST {path} {text[:200]}")
        if response.status_code >= 400:
            assert isinstance(response.json()["error_code"], int)


# Found by the fuzz, kept as plain cases so they run every time.
FOUND_5XX = [
    ("GET", f"/schemas/ids/{2**70}", None),  # SQLite cannot bind it: OverflowError
    ("GET", f"/schemas/ids/{2**70}/versions", None),
    ("GET", f"/schemas/ids/{2**70}/subjects", None),
    ("POST", "/subjects/deep/versions", {"schema": "[" * 100_000}),  # RecursionError
    ("POST", "/subjects/deep", {"schema": "[" * 100_000}),
    ("POST", "/compatibility/subjects/deep/versions", {"schema": "[" * 100_000}),
    ("GET", "/subjects/deep/versions/" + "1" * 4301, None),  # int() refuses > 4300 digits
    ("GET", "/subjects/deep/versions/%C2%B2", None),  # "²": isdigit, but int() refuses it
    ("POST", "/subjects/deep/versions", {"schema": "x" * 2_000_000}),  # over the body cap
]


@pytest.mark.parametrize(("method", "path", "body"), FOUND_5XX)
def test_inputs_that_once_gave_a_5xx(
    client: TestClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = client.request(method, path, json=body, auth=ADMIN)
    assert_clean_refusal(response, f"{method} {path}")
    assert response.status_code in (404, 413, 422)
