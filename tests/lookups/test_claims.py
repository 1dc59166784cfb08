"""Claim checks: true or false per claim, no value; only on granted fields; verify-only
grants check what they may not read; certificates valid or not, and why."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from govbus.consumers.testing import MARRIAGE, citizen_id
from tests.lookups.conftest import (
    ALICE,
    BANK,
    BOB,
    HPF_TYPE,
    MARRIAGE_NUMBER,
    NAME,
    NOBODY,
    PSB,
    audit_since,
    grant,
    head,
)

HPF = ("hpf", "dev-hpf")
VERDICT = ["status", "valid_from", "valid_to"]


def test_verify_only_grant_answers_claims_and_serves_no_lookup(client: TestClient) -> None:
    sub = grant(client, "BR-PERSON", ["marital_status", "death_date"], "verify", approver=PSB)
    assert sub["delivery"] == "verify"
    assert client.get(f"/v1/persons/{ALICE}", auth=BANK).status_code == 404
    seq = head(client)
    claims = {"marital_status": "20", "alive": True}
    reply = client.post(f"/v1/persons/{ALICE}/verify", json=claims, auth=BANK)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "resource": "BR-PERSON",
        "claims": {"marital_status": True, "alive": True},
    }
    bob = client.post(f"/v1/persons/{BOB}/verify", json=claims, auth=BANK).json()
    assert bob["claims"] == {"marital_status": False, "alive": False}
    dead = client.post(f"/v1/persons/{BOB}/verify", json={"alive": False}, auth=BANK)
    assert dead.json()["claims"] == {"alive": True}
    nobody = client.post(f"/v1/persons/{NOBODY}/verify", json=claims, auth=BANK)
    assert nobody.status_code == 404
    entries = audit_since(client, seq)
    assert [(e.action, e.fields, e.records, e.outcome) for e in entries] == [
        ("claim.checked", ("death_date", "marital_status"), 1, "ok"),
        ("claim.checked", ("death_date", "marital_status"), 1, "ok"),
        ("claim.checked", ("death_date",), 1, "ok"),
        ("claim.checked", ("death_date", "marital_status"), 0, "not_found"),
    ]
    assert ALICE not in json.dumps([e.model_dump() for e in entries])


def test_claims_outside_the_grant_are_403_naming_the_field_not_the_value(
    client: TestClient,
) -> None:
    grant(client, "BR-PERSON", ["marital_status"], "verify", approver=PSB)
    reply = client.post(
        f"/v1/persons/{ALICE}/verify", json={"marital_status": "20", "name": NAME}, auth=BANK
    )
    assert (reply.status_code, reply.json()["error_code"]) == (403, "CLAIM_NOT_GRANTED")
    assert "name" in reply.json()["message"] and NAME not in reply.text
    phone = client.post(f"/v1/persons/{ALICE}/verify", json={"phone": "1"}, auth=BANK)
    assert phone.status_code == 403 and "phone" in phone.json()["message"]  # never grantable
    unknown = client.post(f"/v1/persons/{ALICE}/verify", json={"salary": "1"}, auth=BANK)
    assert (unknown.status_code, unknown.json()["error_code"]) == (422, "UNKNOWN_CLAIM")
    typed = client.post(f"/v1/persons/{ALICE}/verify", json={"marital_status": True}, auth=BANK)
    assert (typed.status_code, typed.json()["error_code"]) == (422, "INVALID_CLAIM")
    empty = client.post(f"/v1/persons/{ALICE}/verify", json={}, auth=BANK)
    assert empty.status_code == 422


def test_certificates_valid_or_why_not(client: TestClient) -> None:
    grant(client, "EC-HPF-DEPOSIT", [*VERDICT, "holder_id"], "verify", approver=HPF)

    def check(**body: str) -> tuple[bool, str]:
        reply = client.post("/v1/certificates/verify", json=body, auth=BANK)
        assert reply.status_code == 200, reply.text
        answer = reply.json()
        assert set(answer) == {"resource", "valid", "reason"}  # no field of the record
        return answer["valid"], answer["reason"]

    assert check(number=f"{HPF_TYPE}:GJJ-1") == (False, "expired")
    assert check(licence_type=HPF_TYPE, number="GJJ-2") == (False, "holder_unknown")
    assert check(number="GJJ-3") == (False, "revoked")  # bare: under the granted types
    assert check(licence_type=HPF_TYPE, holder_id=ALICE) == (False, "expired")
    assert check(licence_type=HPF_TYPE, number="GJJ-404") == (False, "not_found")
    assert check(licence_type=HPF_TYPE, holder_id=citizen_id(1)) == (False, "not_found")
    # The marriage certificate exists, but its type is not granted: a bare number misses it.
    assert check(number=MARRIAGE_NUMBER) == (False, "not_found")
    refused = client.post(
        "/v1/certificates/verify", json={"number": f"{MARRIAGE}:{MARRIAGE_NUMBER}"}, auth=BANK
    )
    assert (refused.status_code, refused.json()["error_code"]) == (403, "CLAIM_NOT_GRANTED")
    bad = client.post("/v1/certificates/verify", json={"licence_type": HPF_TYPE}, auth=BANK)
    assert bad.status_code == 422


def test_a_marriage_certificate_checks_valid(client: TestClient) -> None:
    grant(client, "EC-MARRIAGE", VERDICT, "lookup", approver=("cab", "dev-cab"))
    reply = client.post("/v1/certificates/verify", json={"number": MARRIAGE_NUMBER}, auth=BANK)
    assert reply.json() == {"resource": "EC-MARRIAGE", "valid": True, "reason": "valid"}
    no_holder = client.post(
        "/v1/certificates/verify", json={"licence_type": MARRIAGE, "holder_id": ALICE}, auth=BANK
    )
    assert no_holder.status_code == 403 and "holder_id" in no_holder.json()["message"]


def test_household_district_reads_the_household_address(client: TestClient) -> None:
    grant(client, "BR-PERSON", ["household_address"], "verify", approver=PSB)

    def claim(code: str) -> object:
        reply = client.post(
            f"/v1/persons/{ALICE}/verify", json={"household_district": code}, auth=BANK
        )
        return (
            reply.json()["claims"]["household_district"]
            if reply.status_code == 200
            else (
                reply.status_code,
                reply.json()["error_code"],
            )
        )

    assert claim("110105") is True  # 北京市朝阳区…
    assert claim("110108") is False  # 海淀区
    assert claim("510107") is False
    assert claim("1101") == (422, "INVALID_CLAIM")
    assert claim("999999") == (422, "INVALID_CLAIM")
    assert client.post(
        f"/v1/persons/{BOB}/verify", json={"household_district": "110105"}, auth=BANK
    ).json()["claims"] == {"household_district": False}  # no address stored
