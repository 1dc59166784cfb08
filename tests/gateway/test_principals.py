"""Principals and tokens in the gateway database: seeding, tokens, revocation, expiry, audit."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from govbus.gateway.audit import ChainedAuditLog, MemoryAuditLog
from govbus.gateway.principals import PrincipalService

from .principals_fixtures import ADMIN, PSB, basic, bearer, gateway


def service(app: object) -> PrincipalService:
    found: PrincipalService = app.state.principals  # type: ignore[attr-defined]
    return found


def test_the_credentials_file_seeds_an_empty_database_once(tmp_path: Path) -> None:
    app, client = gateway(tmp_path)
    names = {p.name for p in service(app).principals()}
    assert {"registry-admin", "psb", "bank01"} <= names
    assert client.get("/v1/me", headers=basic(*PSB)).json()["name"] == "psb"
    service(app).remove("test", "psb")
    # A restart does not import the file again: the database is the truth now.
    again, client = gateway(tmp_path)
    assert "psb" not in {p.name for p in service(again).principals()}
    assert client.get("/v1/me", headers=basic(*PSB)).status_code == 401


def test_a_token_is_shown_once_stored_as_a_keyed_hash_and_works_as_bearer_or_basic(
    tmp_path: Path,
) -> None:
    _, client = gateway(tmp_path)
    made = client.post(
        "/v1/principals",
        json={"name": "bank-app", "roles": ["subscriber"], "department": "BANK01"},
        headers=basic(*ADMIN),
    )
    assert made.status_code == 201, made.text
    assert made.json()["principal"]["kind"] == "department"
    issued = client.post("/v1/principals/bank-app/tokens", json={}, headers=basic(*ADMIN))
    assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    token_id, secret = token.split("_")[1:]
    assert len(bytes.fromhex(secret)) * 8 >= 256
    me = client.get("/v1/me", headers=bearer(token))
    assert me.json() == {"name": "bank-app", "department": "BANK01", "roles": ["subscriber"]}
    # confluent-kafka's SchemaRegistryClient: basic.auth.user.info = name:token
    assert client.get("/subjects", headers=basic("bank-app", token)).status_code == 200
    assert client.get("/subjects", headers=basic("psb", token)).status_code == 401
    listed = client.get("/v1/principals/bank-app/tokens", headers=basic(*ADMIN)).json()
    assert [t["token_id"] for t in listed] == [token_id] and "token" not in listed[0]
    db = sqlite3.connect(tmp_path / "gateway.db")
    dump = "\n".join(db.iterdump())
    assert secret not in dump and token_id in dump


def test_a_revoked_token_is_refused_on_the_next_request(tmp_path: Path) -> None:
    app, client = gateway(tmp_path)
    issued = service(app).create_token("test", "psb")
    assert client.get("/v1/me", headers=bearer(issued.token)).status_code == 200
    revoked = client.delete(f"/v1/tokens/{issued.token_id}", headers=basic(*ADMIN))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    refused = client.get("/v1/me", headers=bearer(issued.token))
    assert refused.status_code == 401
    assert refused.json()["error_code"] == "UNAUTHENTICATED"
    assert issued.token not in refused.text


def test_rotation_revokes_the_old_token_and_keeps_its_expiry(tmp_path: Path) -> None:
    app, client = gateway(tmp_path)
    expires = datetime.now(UTC) + timedelta(days=3)
    old = service(app).create_token("test", "psb", expires)
    rotated = client.post(f"/v1/tokens/{old.token_id}/rotate", json={}, headers=basic(*ADMIN))
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()
    assert datetime.fromisoformat(new["expires_at"]) == expires
    assert client.get("/v1/me", headers=bearer(old.token)).status_code == 401
    assert client.get("/v1/me", headers=bearer(new["token"])).status_code == 200


def test_an_expired_token_is_refused(tmp_path: Path) -> None:
    app, client = gateway(tmp_path)
    issued = service(app).create_token("test", "psb", datetime.now(UTC) + timedelta(seconds=1))
    assert client.get("/v1/me", headers=bearer(issued.token)).status_code == 200
    time.sleep(1.2)
    assert client.get("/v1/me", headers=bearer(issued.token)).status_code == 401
    past = client.post(
        "/v1/principals/psb/tokens",
        json={"expires_at": "2020-01-01T00:00:00Z"},
        headers=basic(*ADMIN),
    )
    assert past.status_code == 422 and past.json()["error_code"] == "INVALID_EXPIRY"


def test_a_disabled_principal_is_refused_with_its_tokens_and_password(tmp_path: Path) -> None:
    app, client = gateway(tmp_path)
    issued = service(app).create_token("test", "psb")
    disabled = client.post("/v1/principals/psb/disable", headers=basic(*ADMIN))
    assert disabled.status_code == 200 and disabled.json()["disabled_at"]
    assert client.get("/v1/me", headers=bearer(issued.token)).status_code == 401
    assert client.get("/v1/me", headers=basic(*PSB)).status_code == 401
    refused = client.post("/v1/principals/psb/tokens", json={}, headers=basic(*ADMIN))
    assert refused.status_code == 409 and refused.json()["error_code"] == "PRINCIPAL_DISABLED"


def test_admin_routes_need_the_admin_role_and_refuse_bad_input(tmp_path: Path) -> None:
    _, client = gateway(tmp_path)
    assert client.get("/v1/principals", headers=basic(*PSB)).status_code == 403
    cases = [
        ({"name": "bad name", "roles": ["provider"]}, 422, "INVALID_REQUEST"),
        ({"name": "x", "roles": []}, 422, "INVALID_REQUEST"),
        ({"name": "x", "roles": ["provider"], "department": "NOPE"}, 422, "UNKNOWN_DEPARTMENT"),
        ({"name": "psb", "roles": ["provider"], "department": "PSB"}, 409, "PRINCIPAL_EXISTS"),
    ]
    for body, status, code in cases:
        answer = client.post("/v1/principals", json=body, headers=basic(*ADMIN))
        assert (answer.status_code, answer.json()["error_code"]) == (status, code), body
    missing = client.get("/v1/principals/nobody-here", headers=basic(*ADMIN))
    assert missing.status_code == 404 and "nobody-here" not in missing.text


def test_changes_and_failures_are_audited_without_secrets_or_unknown_names(
    tmp_path: Path,
) -> None:
    app, client = gateway(tmp_path)
    audit: ChainedAuditLog = app.state.audit
    issued = service(app).create_token("registry-admin", "psb")
    service(app).revoke_token("registry-admin", issued.token_id)
    client.get("/v1/me", headers=basic("110101199003077777", "guess"))  # unknown: maybe an ID
    client.get("/v1/me", headers=basic("psb", "wrong"))
    client.get("/v1/me", headers=bearer(issued.token))
    entries = audit.store.entries_after(0)
    actions = [(r.action, r.target, r.reason) for r in entries]
    assert ("token.created", issued.token_id, None) in actions
    assert ("token.revoked", issued.token_id, None) in actions
    assert ("auth.failed", None, "unknown") in actions
    assert ("auth.failed", "psb", "wrong_secret") in actions
    assert ("auth.failed", "psb", "revoked") in actions
    text = "\n".join(r.model_dump_json() for r in entries)
    assert "110101199003077777" not in text and issued.token not in text and "guess" not in text


def test_authentication_failures_are_rate_limited_per_address_with_retry_after(
    tmp_path: Path,
) -> None:
    _, client = gateway(tmp_path, gateway_auth_failures_burst=5)
    statuses = [
        client.get("/v1/me", headers=basic("psb", f"wrong-{i}")).status_code for i in range(8)
    ]
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429] * 3
    limited = client.get("/v1/me", headers=basic(*PSB))  # even the right secret: no oracle
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error_code"] == "RATE_LIMITED"


def test_requests_are_rate_limited_per_principal(tmp_path: Path) -> None:
    app, client = gateway(tmp_path, gateway_rate_per_second=0.5, gateway_rate_burst=3)
    token = service(app).create_token("test", "bank01").token
    statuses = [client.get("/v1/me", headers=bearer(token)).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    limited = client.get("/v1/me", headers=bearer(token))
    assert limited.headers["Retry-After"] == "2"
    # Another principal has its own budget.
    assert client.get("/v1/me", headers=basic(*PSB)).status_code == 200


@pytest.mark.parametrize("header", ["", "Basic !!!", "Bearer gbt_zz", "Digest x"])
def test_missing_or_malformed_credentials_are_401(tmp_path: Path, header: str) -> None:
    _, client = gateway(tmp_path)
    answer = client.get("/v1/me", headers={"Authorization": header} if header else {})
    assert answer.status_code == 401 and answer.json()["error_code"] == "UNAUTHENTICATED"
    registry = client.get("/subjects", headers={"Authorization": header} if header else {})
    assert registry.status_code == 401 and registry.json()["error_code"] == 40101


@pytest.mark.postgres
def test_principals_and_tokens_on_postgresql(pg_database: str) -> None:
    from govbus.gateway._db import open_database
    from govbus.gateway.principals import PrincipalStore

    audit = MemoryAuditLog()
    store = PrincipalStore(open_database(pg_database))
    pg = PrincipalService(store, b"k" * 32, audit)
    PrincipalStore(open_database(pg_database))  # a restart migrates nothing twice
    pg.create("test", "bank-app", ["subscriber", "provider"], "BANK01")
    issued = pg.create_token("test", "bank-app", datetime.now(UTC) + timedelta(hours=1))
    ok = pg.authenticate_token(issued.token)
    assert ok.principal is not None and ok.principal.roles == {"subscriber", "provider"}
    assert pg.tokens("bank-app")[0].expires_at == issued.expires_at
    pg.revoke_token("test", issued.token_id)
    assert pg.authenticate_token(issued.token).failure == "revoked"
    pg.remove("test", "bank-app")
    assert pg.principals() == [] and pg.tokens() == []
