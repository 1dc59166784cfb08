"""A real base store (SQLite or PostgreSQL) filled by `apply_batch` with real events, and the
whole gateway app over it; grants are made through the subscription API."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from govbus import Catalog, ChangeEvent, Settings, load_contract
from govbus.consumers import KafkaPosition, SourcedEvent, apply_batch, open_store
from govbus.consumers.testing import MARRIAGE, certificate, citizen_id, legal_entity, person, uscc
from govbus.gateway._app import create_app
from govbus.gateway._settings import GatewaySettings

BANK = ("bank01", "dev-bank01")
PSB = ("psb", "dev-psb")
CAB = ("cab", "dev-cab")
HPF = ("hpf", "dev-hpf")
ALICE = citizen_id(4242)  # married, alive
BOB = citizen_id(4243)  # dead
NOBODY = citizen_id(4244)  # valid number, not in the store
ENTITY = uscc(77)
HPF_TYPE = "11100000000000000D"
PHONE = "13912345678"
NAME = "张三丰"
ADDRESS = "北京市朝阳区建国路88号"
MARRIAGE_NUMBER = "J110105-2020-004242"


def events() -> list[ChangeEvent]:  # type: ignore[type-arg]
    return [
        person(
            ALICE, 1, name=NAME, sex="1", birth_date=date(1985, 3, 12), household_address=ADDRESS
        ),
        person(ALICE, 2, department="HRSS", phone=PHONE),
        person(ALICE, 3, department="CAB", marital_status="20"),
        person(BOB, 1, name="李四", sex="1"),
        person(BOB, 2, department="CAB", marital_status="10", death_date=date(2024, 1, 2)),
        legal_entity(
            ENTITY, 1, name="北京某某科技有限公司", legal_representative="王五", status="active"
        ),
        legal_entity(ENTITY, 2, department="TAX", tax_credit_rating="A"),
        certificate(
            MARRIAGE,
            MARRIAGE_NUMBER,
            1,
            "CAB",
            holder_id=ALICE,
            holder_type="person",
            valid_from=date(2020, 5, 20),
            status="valid",
            attributes={"spouse_name": "赵六"},
        ),
        certificate(
            HPF_TYPE,
            "GJJ-1",
            1,
            "HPF",
            holder_id=ALICE,
            holder_type="person",
            valid_from=date(2020, 1, 1),
            valid_to=date(2021, 1, 1),
            status="valid",
        ),
        certificate(
            HPF_TYPE,
            "GJJ-2",
            1,
            "HPF",
            holder_id=citizen_id(4999),
            holder_type="person",
            valid_from=date(2020, 1, 1),
            status="valid",
        ),
        certificate(
            HPF_TYPE,
            "GJJ-3",
            1,
            "HPF",
            holder_id=BOB,
            holder_type="person",
            valid_from=date(2020, 1, 1),
            status="revoked",
        ),
    ]


def fill(url: str, catalog: Catalog, batch: Sequence[ChangeEvent]) -> None:  # type: ignore[type-arg]
    store = open_store(url)
    try:
        items = [
            SourcedEvent(e, KafkaPosition(f"govbus.base.{e.entity}", 0, i))
            for i, e in enumerate(batch)
        ]
        result = apply_batch(store, items, catalog=catalog, group="test")
        assert result.applied_events == len(batch)
    finally:
        store.close()


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_contract(Settings()).catalog


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path, catalog: Catalog) -> str:
    url = (
        f"sqlite:///{tmp_path / 'base.db'}"
        if request.param == "sqlite"
        else str(request.getfixturevalue("pg_database"))
    )
    fill(url, catalog, events())
    return url


@pytest.fixture
def client(store_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = GatewaySettings(
        # On PostgreSQL the gateway's tables share the store's database (no name overlaps):
        # the verify delivery's migration runs on both backends.
        gateway_db=store_url
        if store_url.startswith("postgresql")
        else f"sqlite:///{tmp_path / 'gateway.db'}",
        store_url=store_url,
        gateway_rate_burst=10**6,
        store_read_pool_size=2,
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def grant(
    client: TestClient,
    resource: str,
    fields: list[str],
    delivery: str = "lookup",
    approver: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """A grant through the subscription API: asked by the bank, approved by `approver`."""
    reply = client.post(
        "/v1/subscriptions",
        json={
            "resource": resource,
            "fields": fields,
            "purpose": "housing-loan applicant checks",
            "legal_basis": "provincial data-sharing rules, art. 12",
            "delivery": delivery,
        },
        auth=BANK,
    )
    assert reply.status_code == 201, reply.text
    sub: dict[str, Any] = reply.json()
    if sub["state"] == "pending":
        assert approver is not None
        approved = client.post(f"/v1/subscriptions/{sub['id']}/approve", auth=approver)
        assert approved.status_code == 200, approved.text
        sub = approved.json()
    assert sub["state"] == "active"
    return sub


def audit_since(client: TestClient, seq: int) -> list[Any]:
    store = client.app.state.audit.store  # type: ignore[attr-defined]
    return list(store.entries_after(seq))


def head(client: TestClient) -> int:
    return int(client.app.state.audit.store.head_seq())  # type: ignore[attr-defined]
