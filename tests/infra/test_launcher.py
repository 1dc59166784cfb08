"""The `govbus dev kafka` commands: idempotent up, clean down, fetch once."""

from __future__ import annotations

import os

import pytest
import typer
from typer.testing import CliRunner

from govbus.dev import kafka, paths
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


@pytest.mark.kafka
def test_up_twice_then_down_leaves_no_process() -> None:
    runner = CliRunner()
    app = _cli()
    name = f"pytest-{os.getpid()}-launcher"

    first = runner.invoke(app, ["dev", "kafka", "up", "--name", name])
    assert first.exit_code == 0, first.output
    handle = kafka.load_cluster(name)
    assert handle is not None
    pids = handle.running_pids()
    assert handle.bootstrap_servers in first.stdout
    try:
        second = runner.invoke(app, ["dev", "kafka", "up", "--name", name])
        assert second.exit_code == 0, second.output
        assert "already running" in second.output
        assert handle.running_pids() == pids  # nothing restarted

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
