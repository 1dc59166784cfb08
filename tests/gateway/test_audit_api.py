"""`GET /v1/audit` on the real app: a provider sees who accessed its resources, an admin
sees everything, anyone else is refused; pages, the time filter, bad input, and the last
checkpoint signed by the lifespan."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from govbus.gateway._app import create_app
from govbus.gateway._settings import GatewaySettings
from govbus.gateway.audit import AuditRecord, ChainedAuditLog, load_public_key, verify_database
from tests.gateway.audit_helpers import access, key_file

ADMIN = ("registry-admin", "dev-registry-admin")
PSB = ("psb", "dev-psb")  # provides BR-PERSON
CAB = ("cab", "dev-cab")  # provides EC-MARRIAGE
SUBSCRIBER = ("bank01", "dev-bank01")


@pytest.fixture
def settings(tmp_path: Path) -> GatewaySettings:
    return GatewaySettings(
        gateway_db=f"sqlite:///{tmp_path / 'gateway.db'}",
        audit_signing_key=key_file(tmp_path),
        audit_mirror=False,
        audit_checkpoint_every=5,
    )


@pytest.fixture
def client(settings: GatewaySettings) -> Iterator[TestClient]:
    app = create_app(settings)
    log: ChainedAuditLog = app.state.audit
    app.state.audit_base = log.store.head_seq()  # the seeding of the dev principals is audited
    for i in range(12):  # odd i: BR-PERSON, even i: EC-MARRIAGE
        log.append(access(i))
    with TestClient(app) as test_client:
        yield test_client


def base_seq(client: TestClient) -> int:
    """The chain's length before the fixture's twelve accesses."""
    return int(client.app.state.audit_base)  # type: ignore[attr-defined]


def page(client: TestClient, auth: tuple[str, str], **params: Any) -> Any:
    response = client.get("/v1/audit", params=params, auth=auth)
    assert response.status_code == 200, response.text
    return response.json()


def test_an_admin_reads_everything_page_by_page(client: TestClient) -> None:
    seen: list[int] = []
    after = 0
    while True:
        body = page(client, ADMIN, limit=5, after=after)
        seen += [e["seq"] for e in body["entries"]]
        if body["next_after"] is None:
            break
        after = body["next_after"]
    base = base_seq(client)
    assert seen == list(range(1, base + 13))
    [entry] = page(client, ADMIN, after=base + 2, limit=1)["entries"]
    written = access(2)
    assert (entry["seq"], entry["actor"], entry["target"]) == (
        base + 3,
        written.actor,
        written.target,
    )
    assert entry["fields"] == list(written.fields) and entry["records"] == written.records


def test_a_provider_reads_only_its_resources(client: TestClient) -> None:
    psb = page(client, PSB)["entries"]
    assert {e["resource"] for e in psb} == {"BR-PERSON"} and len(psb) == 6
    cab = page(client, CAB, resource="EC-MARRIAGE")["entries"]
    assert {e["resource"] for e in cab} == {"EC-MARRIAGE"} and len(cab) == 6
    refused = client.get("/v1/audit", params={"resource": "EC-MARRIAGE"}, auth=PSB)
    assert refused.status_code == 403 and refused.json()["error_code"] == "NOT_PROVIDER"


def test_others_are_refused(client: TestClient) -> None:
    subscriber = client.get("/v1/audit", auth=SUBSCRIBER)
    assert subscriber.status_code == 403 and subscriber.json()["error_code"] == "FORBIDDEN"
    assert client.get("/v1/audit").status_code == 401


def test_since_keeps_the_later_entries(client: TestClient) -> None:
    time.sleep(0.01)
    cut = datetime.now(UTC)
    log: ChainedAuditLog = client.app.state.audit  # type: ignore[attr-defined]
    log.append(access(13))
    later = page(client, ADMIN, since=cut.isoformat())["entries"]
    assert [e["seq"] for e in later] == [base_seq(client) + 13]


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 1001}, {"after": -1}, {"since": "yesterday"}]
)
def test_bad_parameters_are_a_422_with_a_code(client: TestClient, params: dict[str, Any]) -> None:
    response = client.get("/v1/audit", params=params, auth=ADMIN)
    assert response.status_code == 422 and response.json()["error_code"] == "INVALID_REQUEST"


def test_a_personal_value_never_reaches_the_log(client: TestClient) -> None:
    log: ChainedAuditLog = client.app.state.audit  # type: ignore[attr-defined]
    log.append(AuditRecord(actor="anonymous", action="auth.failed", target="11010519491231002X"))
    [entry] = page(client, ADMIN, after=base_seq(client) + 12)["entries"]
    assert entry["target"] == "[id-number]"
    assert "11010519491231002X" not in client.get("/v1/audit", auth=ADMIN).text


def test_the_lifespan_signs_the_head_when_the_server_stops(settings: GatewaySettings) -> None:
    app = create_app(settings)
    base = app.state.audit.store.head_seq()
    with TestClient(app):
        for i in range(7):
            app.state.audit.append(access(i))
    assert settings.audit_signing_key is not None
    report = verify_database(app.state.db, load_public_key(settings.audit_signing_key))
    assert report.intact and report.last_checkpoint is not None
    assert (report.head_seq, report.last_checkpoint.seq) == (base + 7, base + 7)
