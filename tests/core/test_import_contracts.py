"""The import contracts in pyproject.toml (`lint-imports`, run by `make lint`) see the roles
through their symlinks, hold on the code, and each one breaks when its rule is broken."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest

from govbus._settings import REPO_ROOT

LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))
CORE = "The core imports no role"
PRODUCERS = "Producers never import consumers or the gateway"
CONSUMERS = "Consumers never import producers or the gateway"
GATEWAY = "The gateway imports producers only for HTTP ingestion"
SIBLINGS = "Siblings never import each other's private modules"
PUBLIC_CORE = "Roles import only public names of the core (govbus, not govbus._x)"
ALL = (CORE, PRODUCERS, CONSUMERS, GATEWAY, SIBLINGS, PUBLIC_CORE)


def test_the_graph_follows_the_symlinked_roles() -> None:
    graph = grimp.build_graph("govbus", cache_dir=None)
    for module in (
        "govbus.producers._publisher",
        "govbus.consumers._sync",
        "govbus.gateway._ingest",
        "govbus.gateway.registry._service",
    ):
        assert module in graph.modules, module
    assert "govbus.producers" in graph.find_modules_directly_imported_by("govbus.gateway._ingest")


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package (symlinks resolved) and pyproject.toml, to break rules in."""
    root = tmp_path_factory.mktemp("layering")
    shutil.copytree(
        REPO_ROOT / "govbus", root / "govbus", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO_ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def lint_imports(root: Path) -> tuple[int, dict[str, str]]:
    result = subprocess.run(
        [LINT_IMPORTS, "--no-cache"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    verdicts = {}
    for line in result.stdout.splitlines():
        for name in ALL:
            if line.startswith(f"{name} "):
                verdicts[name] = line[len(name) + 1 :].split()[0]
    assert set(verdicts) == set(ALL), result.stdout + result.stderr
    return result.returncode, verdicts


@pytest.fixture
def broken(copy: Path) -> Iterator[Path]:
    yield copy
    for module in copy.rglob("*.py.orig"):
        module.with_suffix("").unlink()
        module.rename(module.with_suffix(""))


def add_import(root: Path, module: str, statement: str) -> None:
    path = root / module
    shutil.copy(path, path.with_name(path.name + ".orig"))
    # Under TYPE_CHECKING: the graph counts it, but loading the contracts' module (which
    # imports govbus) does not run it, so a cycle it would make cannot hide the verdict.
    with path.open("a", encoding="utf-8") as out:
        out.write(f"\nimport typing\n\nif typing.TYPE_CHECKING:\n    {statement}\n")


def test_every_contract_holds_on_the_code(copy: Path) -> None:
    code, verdicts = lint_imports(copy)
    assert code == 0 and set(verdicts.values()) == {"KEPT"}


@pytest.mark.parametrize(
    ("module", "statement", "contract"),
    [
        ("govbus/_topics.py", "import govbus.consumers", CORE),
        ("govbus/dev/cli.py", "from govbus.gateway import cli", CORE),
        ("govbus/producers/_metrics.py", "import govbus.consumers", PRODUCERS),
        ("govbus/producers/_metrics.py", "import govbus.gateway", PRODUCERS),
        ("govbus/consumers/_tables.py", "import govbus.producers", CONSUMERS),
        ("govbus/consumers/_tables.py", "import govbus.gateway", CONSUMERS),
        ("govbus/gateway/_db.py", "import govbus.producers", GATEWAY),
        ("govbus/gateway/_app.py", "import govbus.gateway.registry._store", SIBLINGS),
        ("govbus/consumers/_tables.py", "from govbus._gc import cyclic_gc_paused", PUBLIC_CORE),
        ("govbus/producers/cli.py", "import govbus._native", PUBLIC_CORE),
    ],
)
def test_a_broken_rule_breaks_its_contract(
    broken: Path, module: str, statement: str, contract: str
) -> None:
    add_import(broken, module, statement)
    code, verdicts = lint_imports(broken)
    assert code != 0
    assert verdicts[contract] == "BROKEN"
