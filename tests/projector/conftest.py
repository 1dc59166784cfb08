from __future__ import annotations

import pytest

from govbus import Catalog, Contract, Settings, load_contract


@pytest.fixture(scope="session")
def contract() -> Contract:
    return load_contract(Settings())


@pytest.fixture(scope="session")
def catalog(contract: Contract) -> Catalog:
    return contract.catalog
