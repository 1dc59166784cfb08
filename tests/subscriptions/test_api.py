"""The HTTP surface of the workflow, through FastAPI's TestClient and the dev credentials."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from govbus.gateway._app import create_app
from govbus.gateway._settings import GatewaySettings
from govbus.gateway.audit import ChainedAuditLog
from tests.subscriptions.conftest import Clock

BANK = ("bank01", "dev-bank01")
AMR = ("amr", "dev-amr")
PSB = ("psb", "dev-psb")
ADMIN = ("data-bureau", "dev-data-bureau")
BODY = {
    "resource": "BR-LEGAL-ENTITY",
    "fields": ["name", "tax_credit_rating"],
    "purpose": "housing-loan applicant checks",
    "legal_basis": "provincial data-sharing rules, art. 12",
    "delivery": "http",
}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(database_url: str, clock: Clock) -> Iterator[TestClient]:
    """The whole gateway app, lifespan included, on SQLite and on PostgreSQL."""
    settings = GatewaySettings(gateway_db=database_url, subscription_sweep_seconds=0.05)
    app = create_app(settings)
    app.state.subscriptions.clock = clock
    with TestClient(app) as test_client:
        yield test_client


def ask(client: TestClient, **changes: Any) -> dict[str, Any]:
    reply = client.post("/v1/subscriptions", json={**BODY, **changes}, auth=BANK)
    assert reply.status_code == 201, reply.text
    body: dict[str, Any] = reply.json()
    return body


def error(reply: Any) -> tuple[int, str]:
    return reply.status_code, reply.json()["error_code"]


def test_request_decide_and_list(client: TestClient) -> None:
    sub = ask(client)
    assert sub["state"] == "pending" and sub["waiting_on"] == "provider"
    assert sub["deadline"]["due_on"] == "2026-03-17" and sub["deadline"]["basis"] == "official"
    waiting = client.get("/v1/subscriptions", params={"state": "pending"}, auth=AMR).json()
    assert [s["id"] for s in waiting["subscriptions"]] == [sub["id"]]
    assert client.get("/v1/subscriptions", auth=PSB).json() == {"subscriptions": []}
    approved = client.post(
        f"/v1/subscriptions/{sub['id']}/approve", json={"fields": ["name"]}, auth=AMR
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["granted_fields"] == ["name"]
    seen = client.get(f"/v1/subscriptions/{sub['id']}", auth=BANK).json()
    assert seen["state"] == "active"
    assert [(t["actor"], t["to_state"]) for t in seen["history"]] == [
        ("bank01", "pending"),
        ("amr", "active"),
    ]
    # An approval without a body approves what was asked.
    other = ask(client)
    reply = client.post(f"/v1/subscriptions/{other['id']}/approve", auth=AMR)
    assert reply.json()["granted_fields"] == ["name", "tax_credit_rating"]


def test_refusals_have_codes(client: TestClient) -> None:
    sub = ask(client)
    path = f"/v1/subscriptions/{sub['id']}"
    assert error(client.get(path)) == (401, "UNAUTHENTICATED")
    assert error(client.post("/v1/subscriptions", json=BODY, auth=AMR)) == (403, "FORBIDDEN")
    assert error(client.get(path, auth=PSB)) == (404, "SUBSCRIPTION_NOT_FOUND")
    assert error(client.get("/v1/subscriptions/a%00b", auth=ADMIN)) == (
        404,
        "SUBSCRIPTION_NOT_FOUND",
    )
    assert error(client.post(path + "/approve", auth=BANK)) == (403, "FORBIDDEN")
    assert error(client.post(path + "/approve", auth=ADMIN)) == (403, "FORBIDDEN")
    assert error(client.post(path + "/reject", json={}, auth=AMR)) == (422, "INVALID_REQUEST")
    assert error(client.post(path + "/reject", json={"reason": "  "}, auth=AMR)) == (
        422,
        "INVALID_REQUEST",
    )
    assert client.post(path + "/reject", json={"reason": "no basis"}, auth=AMR).status_code == 200
    assert error(client.post(path + "/approve", auth=AMR)) == (409, "INVALID_TRANSITION")
    assert error(client.post(path + "/revoke", json={"reason": "x"}, auth=AMR)) == (
        409,
        "INVALID_TRANSITION",
    )
    person = {**BODY, "resource": "BR-PERSON", "fields": ["name", "phone"]}
    reply = client.post("/v1/subscriptions", json=person, auth=BANK)
    assert error(reply) == (422, "FIELD_NOT_SHARED") and "phone" in reply.json()["message"]
    bad_state = client.get("/v1/subscriptions", params={"state": "granted"}, auth=BANK)
    assert error(bad_state) == (422, "INVALID_REQUEST")


@pytest.mark.parametrize(
    "changes",
    [
        {"purpose": "loan\x00checks"},
        {"legal_basis": ""},
        {"delivery": "ftp"},
        {"fields": []},
        {"fields": ["Name; DROP TABLE"]},
        {"granted_fields": ["name"]},
        {"expires_on": "tomorrow"},
        {"expires_on": "9999-12-31"},
        {"purpose": "loan \ud800 checks"},
        {"purpose": "x" * 2001},
    ],
)
def test_a_malformed_request_is_422_and_stores_nothing(
    client: TestClient, changes: dict[str, Any]
) -> None:
    # Sent as escaped JSON text, so that a lone surrogate reaches the server as "\ud800".
    raw = json.dumps({**BODY, **changes})
    headers = {"content-type": "application/json"}
    reply = client.post("/v1/subscriptions", content=raw, headers=headers, auth=BANK)
    assert error(reply) == (422, "INVALID_REQUEST")
    assert "\x00" not in reply.text and "DROP" not in reply.text
    assert client.get("/v1/subscriptions", auth=BANK).json() == {"subscriptions": []}


def test_no_route_widens_a_grant(client: TestClient) -> None:
    sub = ask(client, fields=["name"])
    path = f"/v1/subscriptions/{sub['id']}"
    for method in ("PUT", "PATCH"):
        reply = client.request(method, path, json={"fields": ["name", "status"]}, auth=BANK)
        assert reply.status_code == 405
    assert client.get(path, auth=BANK).json()["granted_fields"] == ["name"]


def test_the_sweeper_records_the_escalation_in_the_background(
    client: TestClient, clock: Clock
) -> None:
    sub = ask(client)
    audit: ChainedAuditLog = client.app.state.audit  # type: ignore[attr-defined]
    clock.advance(days=30)
    deadline = time.monotonic() + 10
    while not any(e.action == "subscription.escalated" for e in audit.store.entries_after(0)):
        assert time.monotonic() < deadline, "the sweeper never recorded the escalation"
        time.sleep(0.05)
    seen = client.get(f"/v1/subscriptions/{sub['id']}", auth=BANK).json()
    assert (seen["state"], seen["escalated"], seen["waiting_on"]) == ("overdue", True, "admin")
    overdue = client.get("/v1/subscriptions", params={"state": "overdue"}, auth=ADMIN).json()
    assert [s["id"] for s in overdue["subscriptions"]] == [sub["id"]]
    reply = client.post(f"/v1/subscriptions/{sub['id']}/approve", auth=ADMIN)
    assert reply.json()["history"][-1]["actor_role"] == "admin"
    assert client.get(f"/v1/subscriptions/{sub['id']}", auth=AMR).json()["state"] == "active"


def test_openapi_documents_the_refusals(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    approve = paths["/v1/subscriptions/{subscription_id}/approve"]["post"]["responses"]
    assert {"200", "401", "403", "404", "409", "422"} <= set(approve)
    assert {"201", "401", "403", "422"} <= set(paths["/v1/subscriptions"]["post"]["responses"])


def test_an_expiry_reaches_the_grant_listeners_within_seconds(
    client: TestClient, clock: Clock
) -> None:
    sub = ask(client, fields=["name"], expires_on="2026-03-04")
    assert sub["state"] == "active"
    service = client.app.state.subscriptions  # type: ignore[attr-defined]
    told: list[float] = []
    service.on_change(lambda: told.append(time.monotonic()))
    clock.advance(days=2)
    moved = time.monotonic()
    while not told:
        assert time.monotonic() - moved < 5, "no listener was told of the expiry"
        time.sleep(0.02)
    assert service.active_grants(clock.now) == []
    assert client.get(f"/v1/subscriptions/{sub['id']}", auth=BANK).json()["state"] == "expired"
