from __future__ import annotations

import pytest

from govbus import Contract, Settings, load_contract


@pytest.fixture(scope="session")
def contract() -> Contract:
    return load_contract(Settings())
