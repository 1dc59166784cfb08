"""`GET /v1/catalog` and `GET /v1/catalog/{resource}`: the catalog, browsable by any principal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from govbus import export_catalog, load_catalog
from govbus.gateway._app import create_app
from govbus.gateway._settings import GatewaySettings

BANK = ("bank01", "dev-bank01")
CITIZEN_ID = "11010519491231002X"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp: Path = tmp_path_factory.mktemp("catalog-api")
    app = create_app(GatewaySettings(gateway_db=f"sqlite:///{tmp / 'gateway.db'}"))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_the_catalog_needs_a_principal(client: TestClient) -> None:
    for path in ("/v1/catalog", "/v1/catalog/BR-PERSON"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.json()["error_code"] == "UNAUTHENTICATED"


def test_any_principal_lists_every_resource_with_metadata_and_sharing(client: TestClient) -> None:
    response = client.get("/v1/catalog", auth=BANK)
    assert response.status_code == 200
    resources = response.json()["resources"]
    assert len(resources) == 7
    by_code = {r["code"]: r for r in resources}
    person = by_code["BR-PERSON"]
    assert person["provider"] == "PSB"
    assert person["resource_id"] == "BR01/000001"
    assert person["metadata_id"] == "govbus.md.br-person"
    assert person["topic"] == "govbus.base.person"
    assert person["update_cycle"] == "realtime"
    assert person["maintainer"] == "DATA" and person["updated"] == "2026-11-20"
    fields = {f["name"]: f for f in person["fields"]}
    assert fields["name"]["sharing"] == "conditional"
    assert fields["name"]["mask"] == {"rule": "keep", "first": 1, "last": 0}
    assert fields["phone"]["sharing"] == "not_shared"
    assert by_code["EC-HPF-DEPOSIT"]["update_cycle"] == "daily"


def test_the_api_and_the_export_give_the_same_entries(client: TestClient) -> None:
    import json

    catalog = load_catalog(GatewaySettings().schemas_dir / "catalog.yaml")
    exported = json.loads(export_catalog(catalog, "json"))
    assert client.get("/v1/catalog", auth=BANK).json()["resources"] == exported


def test_one_resource_by_code(client: TestClient) -> None:
    response = client.get("/v1/catalog/EC-REAL-ESTATE", auth=("psb", "dev-psb"))
    assert response.status_code == 200
    entry = response.json()
    assert entry["provider"] == "HOUSING"
    assert entry["category"]["code"] == "EC01"
    assert {s["delivery"] for s in entry["services"]} == {"kafka", "http", "lookup"}


@pytest.mark.parametrize("code", ["NOPE", "br-person", CITIZEN_ID, "BR-PERSON "])
def test_an_unknown_resource_is_404_without_the_value(client: TestClient, code: str) -> None:
    response = client.get(f"/v1/catalog/{code}", auth=BANK)
    assert response.status_code == 404
    assert response.json()["error_code"] == "RESOURCE_NOT_FOUND"
    assert code.strip() not in response.text
