"""Settings: flag > GOVBUS_* > .govbus/env (found upward) > default, and `govbus env`."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from govbus import SettingOrigin, Settings, find_local_env, read_local_env
from tests.cli.helpers import Ran, clean_environ, run_govbus

Invoke = Callable[..., Ran]
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with a local record, the current directory two levels below it, and no
    GOVBUS_* variables (GOVBUS_ENV_FILE included): as a developer's shell would be."""
    for name in list(os.environ):
        if name.startswith("GOVBUS_"):
            monkeypatch.delenv(name)
    record = tmp_path / ".govbus" / "env"
    record.parent.mkdir()
    record.write_text(
        "# written by hand\n"
        "GOVBUS_BOOTSTRAP_SERVERS=127.0.0.1:40001\n"
        "GOVBUS_STORE_URL='sqlite:////data/base store.db'\n"
        "GOVBUS_SASL_PASSWORD=dev-secret-in-file\n"
        "GOVBUS_NOT_A_SETTING=ignored\n",
        encoding="utf-8",
    )
    below = tmp_path / "src" / "deep"
    below.mkdir(parents=True)
    monkeypatch.chdir(below)
    return tmp_path


def rows(output: str) -> dict[str, tuple[str, str]]:
    """`govbus env` lines as {VARIABLE: (value, origin)}."""
    out = {}
    for line in output.splitlines():
        if line.startswith("GOVBUS_"):
            variable, rest = line.split(None, 1)
            value, origin = rest.rsplit("  ", 1)
            out[variable] = (value.strip(), origin.strip())
    return out


def test_the_record_is_found_from_a_subdirectory_and_sits_below_env_and_flags(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert find_local_env() == project / ".govbus" / "env"
    settings = Settings()
    assert settings.bootstrap_servers == "127.0.0.1:40001"
    assert settings.store_url == "sqlite:////data/base store.db"  # shell quoting undone
    monkeypatch.setenv("GOVBUS_STORE_URL", "sqlite:///from-env.db")
    assert Settings().store_url == "sqlite:///from-env.db"
    flagged = Settings.from_flags(store_url="sqlite:///from-flag.db", bootstrap_servers=None)
    assert flagged.store_url == "sqlite:///from-flag.db"
    assert flagged.bootstrap_servers == "127.0.0.1:40001"  # a None flag was not given
    origins = flagged.origins()
    assert origins["store_url"] is SettingOrigin.FLAG
    assert origins["bootstrap_servers"] is SettingOrigin.LOCAL_FILE
    assert origins["dlq_topic"] is SettingOrigin.DEFAULT


def test_govbus_env_shows_each_origin_and_hides_secrets(
    project: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOVBUS_DLQ_TOPIC", "dlq-from-env")
    ran = invoke("env", "--store", "postgresql://ops:pg-secret@db.example:5432/base")
    assert ran.code == 0, ran.stderr
    assert f"local file: {project / '.govbus' / 'env'}" in ran.stdout
    shown = rows(ran.stdout)
    assert shown["GOVBUS_STORE_URL"] == ("postgresql://ops:***@db.example:5432/base", "flag")
    assert shown["GOVBUS_DLQ_TOPIC"] == ("dlq-from-env", "env")
    assert shown["GOVBUS_BOOTSTRAP_SERVERS"] == ("127.0.0.1:40001", "local file")
    assert shown["GOVBUS_SASL_PASSWORD"][1] == "local file"
    assert shown["GOVBUS_LOG_LEVEL"] == ("INFO", "default")
    for secret in ("pg-secret", "dev-secret-in-file", "govbus-development-pseudonym-key"):
        assert secret not in ran.stdout
    assert "GOVBUS_NOT_A_SETTING" not in ran.stdout


def test_export_sets_a_shell_without_printing_secrets(project: Path) -> None:
    ran = run_govbus("env", "--export", env=clean_environ() | {}, cwd=Path.cwd())
    assert ran.code == 0, ran.stderr
    assert "dev-secret-in-file" not in ran.stdout
    assert "# GOVBUS_SASL_PASSWORD is set (local file): not printed" in ran.stdout
    assert not any(line.startswith("export GOVBUS_LOG_LEVEL") for line in ran.stdout.splitlines())
    script = ran.stdout + '\nprintf "%s\\n" "$GOVBUS_BOOTSTRAP_SERVERS" "$GOVBUS_STORE_URL"\n'
    shell = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    assert shell.stdout.splitlines() == ["127.0.0.1:40001", "sqlite:////data/base store.db"]


def test_env_set_and_unset_edit_the_nearest_record(project: Path, invoke: Invoke) -> None:
    record = project / ".govbus" / "env"
    ran = invoke("env", "set", "GOVBUS_STORE_URL=sqlite:////srv/base.db", "log_level=DEBUG")
    assert ran.code == 0, ran.stderr
    assert f"recorded GOVBUS_STORE_URL in {record}" in ran.stdout
    values = read_local_env(record)
    assert values["GOVBUS_STORE_URL"] == "sqlite:////srv/base.db"
    assert values["GOVBUS_LOG_LEVEL"] == "DEBUG"
    assert values["GOVBUS_BOOTSTRAP_SERVERS"] == "127.0.0.1:40001"  # the rest is kept
    assert oct(record.stat().st_mode & 0o777) == "0o600"
    assert invoke("env", "unset", "GOVBUS_LOG_LEVEL").code == 0
    assert "GOVBUS_LOG_LEVEL" not in read_local_env(record)


def test_env_set_refuses_unknown_names_and_bad_values_in_one_line(
    project: Path, invoke: Invoke
) -> None:
    unknown = invoke("env", "set", "GOVBUS_STOER_URL=x")
    assert unknown.code == 2
    [line] = unknown.error_lines
    assert line.startswith("error INVALID_SETTING: no setting 'GOVBUS_STOER_URL'")
    assert "GOVBUS_STORE_URL" in line  # the valid names are listed
    bad = invoke("env", "set", "GOVBUS_CONNECT_TIMEOUT_SECONDS=soon")
    assert bad.code == 2
    [line] = bad.error_lines
    assert line.startswith("error INVALID_SETTING: GOVBUS_CONNECT_TIMEOUT_SECONDS:")


def test_a_bad_setting_in_the_record_is_one_line_naming_it(project: Path, invoke: Invoke) -> None:
    record = project / ".govbus" / "env"
    record.write_text("GOVBUS_CONNECT_TIMEOUT_SECONDS=soon\n", encoding="utf-8")
    ran = invoke("admin", "topics", "ensure")
    assert ran.code == 2
    [line] = ran.error_lines
    assert line.startswith("error INVALID_SETTING: GOVBUS_CONNECT_TIMEOUT_SECONDS:")
    assert "soon" not in line  # values are not echoed: they may be secrets


def test_an_empty_govbus_env_file_turns_the_record_off(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOVBUS_ENV_FILE", "")
    assert find_local_env() is None
    assert Settings().bootstrap_servers == "127.0.0.1:9092"


def test_the_test_session_ignores_a_record_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The govbus pytest plugin points GOVBUS_ENV_FILE at a record of its own, outside the
    # repo: a developer's .govbus/env (after `make demo`) never steers a test.
    override = Path(os.environ["GOVBUS_ENV_FILE"])
    assert not override.is_relative_to(REPO_ROOT)
    (tmp_path / ".govbus").mkdir()
    (tmp_path / ".govbus" / "env").write_text("GOVBUS_DLQ_TOPIC=developer-dlq\n")
    monkeypatch.chdir(tmp_path)
    assert Settings().dlq_topic == "govbus.dlq"
