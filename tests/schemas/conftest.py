from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from govbus._settings import REPO_ROOT


@pytest.fixture
def schemas_copy(tmp_path: Path) -> Path:
    """A private copy of schemas/ that a test may break."""
    target = tmp_path / "schemas"
    shutil.copytree(REPO_ROOT / "schemas", target)
    return target
