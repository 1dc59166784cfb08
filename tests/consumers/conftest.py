from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from govbus import Catalog, Contract, Settings, load_contract
from govbus.consumers import Store, open_store
from govbus.consumers.testing import Refusing, refuse_in_store


@pytest.fixture(scope="session")
def contract() -> Contract:
    return load_contract(Settings())


@pytest.fixture(scope="session")
def catalog(contract: Contract) -> Catalog:
    return contract.catalog


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'base.db'}"
    dsn: str = request.getfixturevalue("pg_database")
    return dsn


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()


REFUSAL_RULES = [
    "sqlite-trigger",
    "sqlite-too-big",
    pytest.param("postgresql-nul", marks=pytest.mark.postgres),
    pytest.param("postgresql-check", marks=pytest.mark.postgres),
]


@pytest.fixture(params=REFUSAL_RULES)
def refusing(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Refusing]:
    backend, rule = request.param.split("-", 1)
    url = (
        f"sqlite:///{tmp_path / 'base.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("pg_database")
    )
    store = open_store(url)
    yield Refusing(store, refuse_in_store(store, rule), rule)
    store.close()
