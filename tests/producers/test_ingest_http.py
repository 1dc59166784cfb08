"""POST /v1/events on the gateway: authenticated departments, all-or-nothing batches."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from govbus.gateway._app import create_app
from govbus.gateway._ingest import IngestState
from govbus.gateway._settings import GatewaySettings
from govbus.testing import KafkaEndpoint

CITIZEN_ID = "11010519491231002X"
PSB = ("psb", "dev-psb")


def client_for(tmp_path: Path, bootstrap: str, ack_timeout: float = 15.0) -> TestClient:
    settings = GatewaySettings(
        bootstrap_servers=bootstrap, gateway_db=f"sqlite:///{tmp_path / 'gateway.db'}"
    )
    app = create_app(settings)
    app.state.ingest = IngestState(settings, ack_timeout=ack_timeout)
    return TestClient(app, raise_server_exceptions=False)


def person(sequence: int, **data: object) -> dict[str, object]:
    return {
        "resource": "BR-PERSON",
        "entity_key": CITIZEN_ID,
        "source_sequence": sequence,
        "event_id": str(uuid.uuid4()),
        "data": data or {"name": "张三"},
    }


def test_anonymous_callers_are_refused(tmp_path: Path) -> None:
    client = client_for(tmp_path, "127.0.0.1:1")
    response = client.post("/v1/events", json={"events": [person(1)]})
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHENTICATED"


def test_one_bad_event_refuses_the_whole_batch_with_per_event_errors(tmp_path: Path) -> None:
    client = client_for(tmp_path, "127.0.0.1:1")
    events = [
        person(1),
        person(2, marital_status="20"),
        {**person(3), "entity_key": "110105194912310021"},
        {**person(4), "resource": "NOPE"},
        person(5, sex="7"),
    ]
    response = client.post("/v1/events", json={"events": events}, auth=PSB)
    assert response.status_code == 422
    body = response.json()
    assert body["error_code"] == "INVALID_EVENTS"
    assert [(e["index"], e["code"], e["field"]) for e in body["errors"]] == [
        (1, "NOT_AUTHORITATIVE", "marital_status"),
        (2, "INVALID_IDENTIFIER", "entity_key"),
        (3, "UNKNOWN_RESOURCE", None),
        (4, "SCHEMA_MISMATCH", "sex"),
    ]
    assert CITIZEN_ID not in response.text and "110105194912310021" not in response.text


@pytest.mark.kafka
def test_a_valid_batch_is_accepted_after_the_broker_acknowledged_it(
    tmp_path: Path, kafka: KafkaEndpoint
) -> None:
    client = client_for(tmp_path, kafka.bootstrap_servers)
    events = [person(n) for n in range(5)]
    events.append({"entity": "person", "entity_key": CITIZEN_ID, "source_sequence": 9, "data": {}})
    events[-1]["data"] = {"sex": "1"}
    response = client.post("/v1/events", json={"events": events}, auth=PSB)
    assert response.status_code == 202, response.text
    ids = response.json()["event_ids"]
    assert ids[:5] == [e["event_id"] for e in events[:5]] and len(ids) == 6


def test_broker_down_is_503_broker_unavailable(tmp_path: Path) -> None:
    client = client_for(tmp_path, "127.0.0.1:1", ack_timeout=1.0)
    response = client.post("/v1/events", json={"events": [person(1)]}, auth=PSB)
    assert response.status_code == 503
    assert response.json()["error_code"] == "BROKER_UNAVAILABLE"
