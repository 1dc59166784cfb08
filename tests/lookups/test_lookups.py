"""Lookups through the whole gateway on a real store: exactly the granted fields, masked as
granted, with provenance; one 404 for unknown and ungranted keys; revocation at once."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from govbus import Settings, pseudonymize
from govbus.consumers.testing import MARRIAGE, citizen_id
from tests.lookups.conftest import (
    ADDRESS,
    ALICE,
    BANK,
    BOB,
    CAB,
    ENTITY,
    HPF_TYPE,
    MARRIAGE_NUMBER,
    NAME,
    NOBODY,
    PHONE,
    PSB,
    audit_since,
    grant,
    head,
)

SECRETS = (ALICE, NAME, PHONE, ADDRESS, "13912345678", "赵六")


def no_secret_in(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_a_person_is_served_with_exactly_the_granted_fields(
    client: TestClient, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    grant(client, "BR-PERSON", ["name", "marital_status"], approver=PSB)
    seq = head(client)
    reply = client.get(f"/v1/persons/{ALICE}", auth=BANK)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["resource"] == "BR-PERSON"
    assert body["key"] == ALICE[:6] + "*" * 8 + ALICE[-4:]  # the key's mask, keep (6, 4)
    assert set(body["fields"]) == {"name", "marital_status"}
    name, marital = body["fields"]["name"], body["fields"]["marital_status"]
    assert (name["value"], name["disclosure"]) == (NAME[0] + "**", "masked")
    assert (marital["value"], marital["disclosure"]) == ("20", "shown")
    assert (name["source_department"], marital["source_department"]) == ("PSB", "CAB")
    assert name["changed_at"] and name["applied_at"]
    no_secret_in(reply.text)  # the phone, the full name, the address, the raw key
    entries = audit_since(client, seq)
    assert [(e.action, e.resource, e.fields, e.records, e.outcome) for e in entries] == [
        ("lookup.served", "BR-PERSON", ("id_number", "marital_status", "name"), 1, "ok")
    ]
    pseudonym = pseudonymize(ALICE, Settings().pseudonym_key.get_secret_value().encode())
    assert entries[0].target == "-".join(pseudonym[i : i + 4] for i in range(0, 32, 4))
    no_secret_in(json.dumps([e.model_dump() for e in entries], ensure_ascii=False))
    # The server side's records (the test client's own httpx lines show the URL it sent).
    server = [r.getMessage() for r in caplog.records if not r.name.startswith("httpx")]
    no_secret_in("\n".join(server) + capsys.readouterr().out)


def test_unknown_and_ungranted_keys_get_the_same_404(client: TestClient) -> None:
    grant(client, "BR-LEGAL-ENTITY", ["name"], delivery="kafka")  # no lookups by kafka grants
    unknown = client.get(f"/v1/persons/{NOBODY}", auth=BANK)
    ungranted = client.get(f"/v1/persons/{ALICE}", auth=BANK)
    by_kafka_grant = client.get(f"/v1/legal-entities/{ENTITY}", auth=BANK)
    other_type = client.get(f"/v1/certificates/{MARRIAGE}/{MARRIAGE_NUMBER}", auth=BANK)
    no_type = client.get(f"/v1/certificates/ZZZ/{MARRIAGE_NUMBER}", auth=BANK)
    for reply in (unknown, ungranted, by_kafka_grant, other_type, no_type):
        assert reply.status_code == 404
        assert reply.content == unknown.content
    grant(client, "BR-PERSON", ["name"], approver=PSB)
    granted_unknown = client.get(f"/v1/persons/{NOBODY}", auth=BANK)
    assert (granted_unknown.status_code, granted_unknown.content) == (404, unknown.content)
    assert client.get(f"/v1/persons/{ALICE}", auth=BANK).status_code == 200


def test_malformed_keys_are_422_without_the_value(client: TestClient) -> None:
    bad = ALICE[:-1] + ("0" if ALICE[-1] != "0" else "1")  # wrong check digit
    for path in (f"/v1/persons/{bad}", "/v1/legal-entities/91110000BAD", "/v1/persons/x"):
        reply = client.get(path, auth=BANK)
        assert (reply.status_code, reply.json()["error_code"]) == (422, "INVALID_IDENTIFIER")
        assert bad not in reply.text and "BAD" not in reply.text
    assert client.get(f"/v1/persons/{ALICE}").status_code == 401
    assert client.get(f"/v1/persons/{ALICE}", auth=PSB).status_code == 403  # not a subscriber


def test_batches_answer_in_order_with_null_for_the_invisible(client: TestClient) -> None:
    grant(client, "BR-PERSON", ["marital_status", "death_date"], approver=PSB)
    seq = head(client)
    reply = client.post("/v1/persons:batchGet", json={"keys": [ALICE, NOBODY, BOB]}, auth=BANK)
    assert reply.status_code == 200, reply.text
    records = reply.json()["records"]
    assert records[1] is None
    assert [set(r["fields"]) for r in (records[0], records[2])] == [
        {"marital_status", "death_date"}
    ] * 2
    assert records[0]["fields"]["death_date"]["value"] is None
    assert records[2]["fields"]["death_date"]["value"] == "2024-01-02"
    [entry] = audit_since(client, seq)
    assert (entry.action, entry.records, entry.target) == ("lookup.served", 2, None)
    too_many = client.post("/v1/persons:batchGet", json={"keys": [ALICE] * 101}, auth=BANK)
    assert (too_many.status_code, too_many.json()["error_code"]) == (422, "BATCH_TOO_LARGE")
    bad = client.post("/v1/persons:batchGet", json={"keys": [ALICE, "123"]}, auth=BANK)
    assert (bad.status_code, bad.json()["error_code"]) == (422, "INVALID_IDENTIFIER")
    assert "keys[1]" in bad.text and ALICE not in bad.text
    assert client.post("/v1/persons:batchGet", json={"keys": []}, auth=BANK).status_code == 422
    hundred = [citizen_id(n) for n in range(5000, 5100)]
    full = client.post("/v1/persons:batchGet", json={"keys": hundred}, auth=BANK)
    assert full.status_code == 200 and full.json()["records"] == [None] * 100


def test_entities_and_certificates_by_their_keys(client: TestClient) -> None:
    grant(client, "BR-LEGAL-ENTITY", ["name", "legal_representative"])  # approved at once
    grant(client, "EC-HPF-DEPOSIT", ["status", "valid_to"], approver=("hpf", "dev-hpf"))
    entity = client.get(f"/v1/legal-entities/{ENTITY.lower()}", auth=BANK)  # normalized
    assert entity.status_code == 200, entity.text
    fields = entity.json()["fields"]
    assert set(fields) == {"name", "legal_representative"}
    assert fields["legal_representative"]["value"] == "王*"
    assert fields["name"]["value"] == "北京某某科技有限公司"
    assert "A" not in [f["value"] for f in fields.values()]  # tax_credit_rating not granted
    cert = client.get(f"/v1/certificates/{HPF_TYPE}/GJJ-1", auth=BANK)
    assert cert.status_code == 200, cert.text
    assert cert.json()["key"] == f"{HPF_TYPE}:GJJ-1"
    assert {n: f["value"] for n, f in cert.json()["fields"].items()} == {
        "status": "valid",
        "valid_to": "2021-01-01",
    }
    assert ALICE not in cert.text  # holder_id is not granted
    batch = client.post(
        "/v1/certificates:batchGet",
        json={"keys": [f"{HPF_TYPE}:GJJ-3", f"{MARRIAGE}:{MARRIAGE_NUMBER}"]},
        auth=BANK,
    )
    records = batch.json()["records"]
    assert records[0]["fields"]["status"]["value"] == "revoked" and records[1] is None


def test_a_revoked_grant_is_refused_on_the_next_request(client: TestClient) -> None:
    sub = grant(client, "BR-PERSON", ["marital_status"], approver=PSB)
    assert client.get(f"/v1/persons/{ALICE}", auth=BANK).status_code == 200
    revoked = client.post(
        f"/v1/subscriptions/{sub['id']}/revoke", json={"reason": "loan closed"}, auth=PSB
    )
    assert revoked.status_code == 200, revoked.text
    after = client.get(f"/v1/persons/{ALICE}", auth=BANK)
    assert after.status_code == 404
    claims = client.post(f"/v1/persons/{ALICE}/verify", json={"marital_status": "20"}, auth=BANK)
    assert (claims.status_code, claims.json()["error_code"]) == (403, "CLAIM_NOT_GRANTED")


def test_cab_is_not_a_subscriber(client: TestClient) -> None:
    assert client.get(f"/v1/persons/{ALICE}", auth=CAB).status_code == 403
