"""End to end on the secured broker, through the gateway: a subscriber asks with
`POST /v1/subscriptions`, its provider approves, the gateway's reconciler grants READ on the
view topic, and the subscriber's own consumer (its department principal's SCRAM user, made
by the gateway) reads; revoked, it is denied again within 5 s."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient
from fastapi.testclient import TestClient

from govbus import grant_disclosure
from govbus.dev.kafka import ClusterHandle
from govbus.dev.kafka_config import Credentials
from govbus.gateway._app import create_app
from govbus.gateway._settings import GatewaySettings
from govbus.gateway.acls import KafkaAcl, read_acls
from govbus.gateway.audit import AuditStore

from .conftest import ensure_topic
from .kafka_reader import denied, department_reader, produce_as_admin, read_all

pytestmark = pytest.mark.kafka

ENFORCED_WITHIN = 5.0


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wait_for(check: Any, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def gateway_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The gateway database on SQLite and on a fresh PostgreSQL database."""
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_database"))
    return f"sqlite:///{tmp_path / 'gateway.db'}"


def test_request_approve_read_revoke_denied(
    kafka_secure: ClusterHandle, gateway_db: str, tmp_path: Path
) -> None:
    admin_conf = kafka_secure.client_config()
    settings = GatewaySettings(
        gateway_db=gateway_db,
        gateway_token_key_file=tmp_path / "token.key",
        bootstrap_servers=kafka_secure.bootstrap_servers,
        security_protocol="SASL_PLAINTEXT",
        sasl_username=admin_conf["sasl.username"],
        sasl_password=admin_conf["sasl.password"],
        gateway_acls=True,
        gateway_acl_interval_seconds=1.0,
    )
    app = create_app(settings)
    run = uuid.uuid4().hex[:6]
    with TestClient(app) as client:
        principals = app.state.principals
        # The department principals, each with a SCRAM user the gateway makes on the broker.
        psb = principals.create("admin", f"psb-{run}", {"provider"}, "PSB")
        bank = principals.create("admin", f"bank-{run}", {"subscriber"}, "BANK01")
        assert bank.kafka_password and bank.principal.kafka_user == f"bank-{run}"
        bank_user = Credentials(bank.principal.kafka_user, bank.kafka_password)
        psb_token = principals.create_token("admin", psb.principal.name).token
        bank_token = principals.create_token("admin", bank.principal.name).token

        fields = ["name", "sex"]
        view = grant_disclosure(app.state.catalog.resource("BR-PERSON"), fields).view_topic
        ensure_topic(kafka_secure, view)  # the projector's part (next issue)
        records = [f"e2e-{run}-{i}" for i in range(3)]
        produce_as_admin(kafka_secure, view, records)
        admin = AdminClient({**admin_conf})
        group_acl = KafkaAcl(
            f"User:{bank_user.username}", "READ", "GROUP", "govbus.bank01.", "PREFIXED"
        )
        assert wait_for(lambda: group_acl in read_acls(admin)), "the reconciler never ran"

        asked = client.post(
            "/v1/subscriptions",
            json={
                "resource": "BR-PERSON",
                "fields": fields,
                "purpose": "housing-loan applicant checks",
                "legal_basis": "provincial data-sharing rules, art. 12",
                "delivery": "kafka",
            },
            headers=bearer(bank_token),
        )
        assert asked.status_code == 201, asked.text
        subscription = asked.json()
        assert subscription["state"] == "pending"  # name and sex are conditional

        with department_reader(kafka_secure, bank_user, view, f"govbus.bank01.{run}") as reader:
            assert reader.poll_until(denied, 20), reader.reading  # before approval
            assert reader.reading.values == []

            path = f"/v1/subscriptions/{subscription['id']}"
            approved = client.post(f"{path}/approve", headers=bearer(psb_token))
            assert approved.status_code == 200, approved.text
            approved_at = time.monotonic()
            assert reader.poll_until(read_all(records), 20), reader.reading
            print(f"read {time.monotonic() - approved_at:.2f} s after approval")

            revoked = client.post(
                f"{path}/revoke", json={"reason": "loan file closed"}, headers=bearer(psb_token)
            )
            assert revoked.status_code == 200, revoked.text
            revoked_at = time.monotonic()
            reader.reading.forget_errors()
            assert reader.poll_until(denied, ENFORCED_WITHIN), reader.reading
            print(f"denied {time.monotonic() - revoked_at:.2f} s after revocation")

        read_view = str(KafkaAcl(f"User:{bank_user.username}", "READ", "TOPIC", view))
        entries = list(AuditStore(app.state.db).all_entries())  # the gateway's chained log
        acl_changes = [
            (e.actor, e.action, e.target)
            for e in entries
            if e.action.startswith("acl.") and e.resource == "BR-PERSON"
        ]
        assert ("system", "acl.added", read_view) in acl_changes
        assert ("system", "acl.removed", read_view) in acl_changes
        assert subscription["id"] in "".join(
            e.reason or "" for e in entries if e.target == read_view
        )
