"""Output: plain help, --version, exit codes documented, no ANSI off a terminal, progress
that ends at 100%, and certificate verdicts that name the certificate once."""

from __future__ import annotations

import io
import re
import subprocess
from collections.abc import Callable
from datetime import date
from importlib.metadata import version
from pathlib import Path

import pytest
import typer.main
from rich.console import Console

from govbus import ErrorCode, Settings, load_contract
from govbus.cli import cli_app
from govbus.consumers import KafkaPosition, SourcedEvent, apply_batch, open_store
from govbus.consumers.testing import certificate, citizen_id, person
from govbus.terminal import progress
from tests.cli.helpers import Ran, run_govbus

Invoke = Callable[..., Ran]
ANSI = re.compile(r"\x1b\[")
REPO_ROOT = Path(__file__).resolve().parents[2]
REAL_ESTATE, DEPOSIT = "11100000000000000C", "11100000000000000D"


def test_help_shows_flags_the_usual_way(invoke: Invoke) -> None:
    sync = invoke("sync", "--help").stdout
    assert re.search(r"^  --until-idle\s+Stop once caught up", sync, re.M)
    assert "<bool>" not in sync and "<str>" not in sync and "<float>" not in sync
    assert re.search(r"^  --store URL\s", sync, re.M)
    assert re.search(r"^  --max-idle-seconds FLOAT\s", sync, re.M)
    get = invoke("store", "get", "--help").stdout
    assert "Usage: govbus store get [OPTIONS] ENTITY KEY" in get
    assert "ENTITY {person|legal-entity|certificate}" in get


def test_every_command_has_plain_help(invoke: Invoke) -> None:
    def walk(command: object, path: list[str]) -> None:
        subcommands = getattr(command, "commands", {})
        ran = invoke(*path, "--help")
        assert ran.code == 0, (path, ran.stderr)
        assert not re.search(r"<(bool|str|int|float|path)>", ran.stdout), path
        usage = ran.stdout.splitlines()[0]
        assert "{" not in usage, path
        for name, sub in subcommands.items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(cli_app()), [])


def test_version_and_exit_codes_in_the_root_help(invoke: Invoke) -> None:
    ran = invoke("--version")
    assert ran.code == 0 and ran.stdout == f"govbus {version('govbus')}\n"
    root = invoke("--help").stdout
    assert "Exit codes:" in root
    for line in ("0  everything was done", "1  partly done", "2  nothing was done"):
        assert line in root


def test_docs_cli_lists_every_command_and_error_code() -> None:
    text = (REPO_ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for code in ErrorCode:
        assert f"`{code}`" in text, code
    root = typer.main.get_command(cli_app())
    for name in getattr(root, "commands", {}):
        assert f"`govbus {name}" in text, name


def test_piped_output_has_no_ansi_codes(tmp_path: Path) -> None:
    for args in (("--help",), ("env",), ("sync", "--help"), ("store", "get", "person")):
        ran = run_govbus(*args, cwd=tmp_path)
        assert not ANSI.search(ran.stdout + ran.stderr), args


def test_demo_headings_are_plain_when_piped() -> None:
    script = (REPO_ROOT / "deploy" / "local" / "demo.sh").read_text(encoding="utf-8")
    start = script.index("if [ -t 1 ]")
    definition = script[start : script.index("\nfi\n", start) + 4]
    piped = subprocess.run(
        ["bash", "-c", definition + 'step "Sync the base store"'],
        capture_output=True,  # stdout is a pipe, as in `make demo | tee demo.log`
        text=True,
        check=True,
    )
    assert piped.stdout == "\n== Sync the base store\n"


def test_progress_off_a_terminal_is_plain_lines_ending_at_100() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False)
    with progress("publishing f.jsonl", 1000, out=console, unit="bytes") as line:
        line.advance(640)  # characters, not bytes: the estimate is off
    assert out.getvalue().splitlines()[-1] == "publishing f.jsonl: 100% (1.0 kB)"
    assert not ANSI.search(out.getvalue())


def test_progress_on_a_terminal_finishes_its_bar() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    with progress("rebuilding", None, out=console) as line:
        line.update(3, 7)
        line.update(7, 9)  # the work ended before the estimate
    task = line._bar.tasks[0]  # type: ignore[union-attr]
    assert task.finished and task.completed == task.total == 9


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """A real SQLite store holding a person and two certificates."""
    url = f"sqlite:///{tmp_path / 'base.db'}"
    catalog = load_contract(Settings()).catalog
    holder = citizen_id(7)
    events = [
        person(holder, 1, name="张三"),
        certificate(
            REAL_ESTATE,
            "T-1",
            1,
            "HOUSING",
            holder_id=holder,
            holder_type="person",
            status="valid",
            valid_to=date(2999, 1, 1),
        ),
        certificate(
            DEPOSIT,
            "D-1",
            1,
            "HPF",
            holder_id=holder,
            holder_type="person",
            valid_to=date(2001, 1, 1),
        ),
    ]
    items = [SourcedEvent(e, KafkaPosition("t", 0, i)) for i, e in enumerate(events)]
    store = open_store(url)
    try:
        apply_batch(store, items, catalog=catalog, group="test")
    finally:
        store.close()
    return url


def test_verify_certificate_names_it_and_says_the_verdict_once(
    invoke: Invoke, store_url: str
) -> None:
    valid = invoke("store", "verify-certificate", f"{REAL_ESTATE}:T-1", "--store", store_url)
    assert valid.code == 0, valid.stderr
    assert (
        valid.stdout == f"EC-REAL-ESTATE {REAL_ESTATE}:***: VALID until 2999-01-01\n"
    )  # number masked by the policy
    expired = invoke("store", "verify-certificate", "D-1", "--store", store_url)
    assert expired.code == 1
    assert expired.stdout == f"EC-HPF-DEPOSIT {DEPOSIT}:***: NOT VALID, expired on 2001-01-01\n"
    unknown = invoke("store", "verify-certificate", "NOPE", "--store", store_url)
    assert (unknown.code, unknown.stdout) == (1, "no such certificate\n")


def test_store_get_answers_no_with_exit_1(invoke: Invoke, store_url: str) -> None:
    found = invoke("store", "get", "person", citizen_id(7), "--store", store_url)
    assert found.code == 0, found.stderr
    assert "张三" not in found.stdout  # masked by default
    missing = invoke("store", "get", "person", citizen_id(8), "--store", store_url)
    assert missing.code == 1 and missing.stdout.startswith("no person ")
