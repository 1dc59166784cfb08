from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.cli.helpers import Ran, invoke_govbus


@pytest.fixture
def invoke() -> Callable[..., Ran]:
    """`invoke(*args, env={...})`: the real root app in-process (typer's CliRunner)."""
    return invoke_govbus
