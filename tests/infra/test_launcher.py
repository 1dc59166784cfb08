"""The `govbus dev kafka` commands: idempotent up, clean down, fetch once, a record of the
cluster in the local environment, no lock files left behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from govbus import read_local_env, write_local_env
from govbus.dev import kafka, paths, postgres
from govbus.dev.cli import register
from govbus.dev.jars import fetch_jars
from govbus.dev.processes import is_running


def _cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_second_fetch_downloads_nothing() -> None:
    fetch_jars()
    marker_times = {p.name: p.stat().st_mtime_ns for p in fetch_jars().directory.iterdir()}
    again = fetch_jars()
    assert not again.downloaded
    assert {p.name: p.stat().st_mtime_ns for p in again.directory.iterdir()} == marker_times


def lock_files() -> list[Path]:
    return sorted(paths.state_root().glob("*/.*.lock"))


def test_launchers_leave_no_lock_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GOVBUS_STATE_DIR", str(tmp_path))
    assert not kafka.stop_cluster("never-started")
    assert not postgres.stop_postgres("never-started")
    assert lock_files() == []


@pytest.mark.kafka
def test_up_twice_then_down_leaves_no_process() -> None:
    runner = CliRunner()
    app = _cli()
    name = f"pytest-{os.getpid()}-launcher"
    record = Path(os.environ["GOVBUS_ENV_FILE"])  # the test session's own (govbus.testing)
    locks_before = lock_files()

    first = runner.invoke(app, ["dev", "kafka", "up", "--name", name])
    assert first.exit_code == 0, first.output
    handle = kafka.load_cluster(name)
    assert handle is not None
    pids = handle.running_pids()
    assert handle.bootstrap_servers in first.stdout
    assert read_local_env(record)["GOVBUS_BOOTSTRAP_SERVERS"] == handle.bootstrap_servers
    assert lock_files() == locks_before
    try:
        write_local_env(record, {"GOVBUS_BOOTSTRAP_SERVERS": "127.0.0.1:9"})
        second = runner.invoke(app, ["dev", "kafka", "up", "--name", name, "--no-record"])
        assert second.exit_code == 0, second.output
        assert "already running" in second.output
        assert handle.running_pids() == pids  # nothing restarted
        assert read_local_env(record)["GOVBUS_BOOTSTRAP_SERVERS"] == "127.0.0.1:9"
        write_local_env(record, {"GOVBUS_BOOTSTRAP_SERVERS": handle.bootstrap_servers})

        status = runner.invoke(app, ["dev", "kafka", "status", "--name", name])
        assert status.exit_code == 0, status.output
        assert "healthy:   yes" in status.stdout
    finally:
        down = runner.invoke(app, ["dev", "kafka", "down", "--name", name])
    assert down.exit_code == 0, down.output

    marker = str(handle.node(1).properties_path)
    assert not any(is_running(pid, marker) for pid in pids.values())
    assert not any(is_running(pid) for pid in pids.values())
    assert not paths.kafka_cluster_dir(name).exists()
    assert runner.invoke(app, ["dev", "kafka", "status", "--name", name]).exit_code == 1
    assert "GOVBUS_BOOTSTRAP_SERVERS" not in read_local_env(record)
    assert lock_files() == locks_before
