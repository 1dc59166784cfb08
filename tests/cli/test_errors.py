"""Errors: one line `error CODE: message`, exit 2, no traceback, no raw librdkafka lines."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from govbus import Catalog, ErrorCode, GovbusError, Settings, load_contract
from govbus.testing import KafkaEndpoint
from tests.cli.helpers import Ran, clean_environ, run_govbus

Invoke = Callable[..., Ran]
ABSENT_BROKER = "127.0.0.1:1"  # a closed loopback port: refused at once
EXPECTED = (
    f"error BROKER_UNAVAILABLE: no Kafka broker at {ABSENT_BROKER} (from "
    "GOVBUS_BOOTSTRAP_SERVERS; start one with `govbus dev kafka up`, or set "
    "GOVBUS_BOOTSTRAP_SERVERS)"
)


@pytest.fixture
def person_file(tmp_path: Path) -> Path:
    path = tmp_path / "people.jsonl"
    path.write_text(json.dumps({"entity_key": "x", "source_sequence": 1}) + "\n")
    return path


@pytest.mark.parametrize(
    "args",
    [
        ("publish", "-d", "PSB", "-r", "BR-PERSON", "{file}"),
        ("sync", "--until-idle", "--store", "sqlite:///{dir}/base.db"),
        ("admin", "topics", "ensure"),
        ("admin", "acls", "sync", "--dry-run"),
        ("relay", "--db", "sqlite:///{dir}/outbox.db", "-d", "PSB", "--until-empty"),
    ],
    ids=["publish", "sync", "topics-ensure", "acls-sync", "relay"],
)
def test_no_broker_is_one_line_and_exit_2_with_nothing_done(
    args: tuple[str, ...], person_file: Path, tmp_path: Path
) -> None:
    argv = [a.format(file=person_file, dir=tmp_path) for a in args]
    ran = run_govbus(*argv, env=clean_environ(GOVBUS_BOOTSTRAP_SERVERS=ABSENT_BROKER), cwd=tmp_path)
    assert ran.code == 2, ran.stderr
    assert ran.error_lines == [EXPECTED]  # librdkafka's own lines never reach the terminal
    assert ran.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["people.jsonl"]  # no store, no rejects


def test_the_broker_error_names_the_local_record_it_came_from(tmp_path: Path) -> None:
    (tmp_path / ".govbus").mkdir()
    record = tmp_path / ".govbus" / "env"
    record.write_text(f"GOVBUS_BOOTSTRAP_SERVERS={ABSENT_BROKER}\n")
    env = {k: v for k, v in clean_environ().items() if k != "GOVBUS_ENV_FILE"}
    ran = run_govbus("admin", "topics", "ensure", env=env, cwd=tmp_path)
    assert ran.code == 2
    assert ran.error_lines == [
        f"error BROKER_UNAVAILABLE: no Kafka broker at {ABSENT_BROKER} (from {record}; start "
        "one with `govbus dev kafka up`, or set GOVBUS_BOOTSTRAP_SERVERS)"
    ]


def test_an_unknown_department_echoes_it_and_lists_the_codes(
    invoke: Invoke, person_file: Path
) -> None:
    ran = invoke("publish", "-d", "PBS", "-r", "BR-PERSON", str(person_file))
    assert ran.code == 2
    [line] = ran.error_lines
    assert line.startswith("error UNKNOWN_DEPARTMENT: no department 'PBS' in the catalog")
    assert "(valid: AMR, BANK01, CAB, DATA, EDU, HOUSING, HPF, HRSS, PSB, TAX)" in line
    ran = invoke("publish", "-d", "PSB", "-r", "BR-PERSONS", str(person_file))
    [line] = ran.error_lines
    assert line.startswith("error UNKNOWN_RESOURCE: no resource 'BR-PERSONS' in the catalog")
    assert "BR-PERSON," in line


def test_a_lowercase_department_on_the_command_line_matches(person_file: Path) -> None:
    # Accepted: the next check, the broker, is the one that fails.
    ran = run_govbus(
        "publish",
        "-d",
        "psb",
        "-r",
        "br-person",
        str(person_file),
        env=clean_environ(GOVBUS_BOOTSTRAP_SERVERS=ABSENT_BROKER),
    )
    assert ran.error_lines == [EXPECTED]


def test_a_wrong_case_code_in_code_is_refused_with_the_right_one() -> None:
    catalog: Catalog = load_contract(Settings()).catalog
    with pytest.raises(GovbusError) as caught:
        catalog.department("psb")
    assert caught.value.code is ErrorCode.UNKNOWN_DEPARTMENT
    assert caught.value.message == (
        "no department 'psb' in the catalog: codes are upper case, use 'PSB'"
    )
    with pytest.raises(GovbusError) as caught:
        catalog.department("110105198503120020")  # personal data in the wrong place
    assert "110105198503120020" not in caught.value.message
    assert "not a catalog code" in caught.value.message and "PSB" in caught.value.message


def test_a_read_command_never_creates_a_store(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "base.db"
    for args in (
        ("store", "get", "person", "110105198503120020"),
        ("store", "verify-certificate", "11100000000000000C:X"),
    ):
        ran = invoke(*args, "--store", f"sqlite:///{path}")
        assert ran.code == 2
        assert ran.error_lines == [
            f"error STORE_NOT_FOUND: no SQLite store at {path} (sqlite:///{path}): run "
            "`govbus sync` to make it, or point --store / GOVBUS_STORE_URL at an existing one"
        ]
    assert not path.exists()


def test_an_unsupported_store_url_is_named_without_its_password(invoke: Invoke) -> None:
    ran = invoke("store", "get", "person", "1", "--store", "mysql://ops:hunter2@db/base")
    assert ran.code == 2
    assert ran.error_lines == [
        "error INVALID_STORE_URL: unsupported store URL 'mysql://ops:***@db/base': "
        "use sqlite:///path/to.db or postgresql://…"
    ]


def test_an_unreachable_postgresql_is_one_line_without_its_password(invoke: Invoke) -> None:
    url = "postgresql://ops:hunter2@127.0.0.1:1/base"
    ran = invoke("store", "get", "person", "1", "--store", url)
    assert ran.code == 2
    [line] = ran.error_lines
    assert line.startswith(
        "error STORE_UNAVAILABLE: cannot reach the PostgreSQL store "
        "postgresql://ops:***@127.0.0.1:1/base: "
    )
    assert "hunter2" not in ran.stderr + ran.stdout


@pytest.mark.kafka
def test_an_unwritable_sqlite_path_is_one_line(kafka: KafkaEndpoint, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    env = clean_environ(GOVBUS_BOOTSTRAP_SERVERS=kafka.bootstrap_servers)
    ran = run_govbus("sync", "--until-idle", "--store", f"sqlite:///{blocker}/base.db", env=env)
    assert ran.code == 2
    assert ran.error_lines == [
        f"error STORE_UNAVAILABLE: cannot open the SQLite store at {blocker}/base.db: "
        "its directory is missing or not writable"
    ]


def test_usage_errors_are_one_line(invoke: Invoke) -> None:
    ran = invoke("store", "get", "person")
    assert ran.code == 2
    assert ran.error_lines == [
        "error USAGE: Missing argument 'KEY'. (see `govbus store get --help`)"
    ]
    assert invoke("no-such-command").error_lines[0].startswith("error USAGE: No such command")
