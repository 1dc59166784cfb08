"""Production modules read the environment only through `Settings` (pydantic-settings): no
test hook that changes what a role does (the relay once hung on a variable), and no second
native switch next to `Settings.native`. The dev tools and the pytest plugin may."""

from __future__ import annotations

import ast
from pathlib import Path

import govbus

CORE = Path(govbus.__file__).resolve().parent
ROLES = [CORE / name for name in ("producers", "consumers", "gateway")]
MAY_READ = {CORE / "dev", CORE / "testing.py"}


def _modules() -> list[Path]:
    found = list(CORE.glob("*.py"))
    for role in ROLES:
        found += role.resolve().rglob("*.py")
    return [p for p in found if not any(p == m or m in p.parents for m in MAY_READ)]


_READS = ("environ", "environb", "getenv")


def _reads_environment(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        imported = isinstance(node, ast.ImportFrom) and node.module == "os"
        if (isinstance(node, ast.Attribute) and node.attr in _READS) or (
            imported and any(a.name in _READS for a in node.names)
        ):
            lines.append(node.lineno)
    return lines


def test_no_production_module_reads_the_environment_itself() -> None:
    modules = _modules()
    assert len(modules) > 40  # the roles' folders were found through the symlinks
    offenders = {
        str(p.relative_to(CORE.parent.resolve())): lines
        for p in modules
        if (lines := _reads_environment(ast.parse(p.read_text(encoding="utf-8"))))
    }
    assert offenders == {}


def test_the_check_sees_a_read() -> None:
    assert _reads_environment(ast.parse("import os\nx = os.environ.get('GOVBUS_X')")) == [2]
    assert _reads_environment(ast.parse("from os import getenv")) == [1]
