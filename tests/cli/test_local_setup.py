"""After `make demo`, commands typed in a fresh shell find its broker and store through
`.govbus/env`, from any subdirectory, without exporting anything."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from govbus import write_local_env
from govbus.consumers.testing import citizen_id
from govbus.dev.cli import record_cluster
from govbus.dev.kafka import ClusterHandle
from govbus.testing import KafkaEndpoint
from tests.cli.helpers import run_govbus


def fresh_shell() -> dict[str, str]:
    """A user's shell: no GOVBUS_* at all, not even the test session's GOVBUS_ENV_FILE."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GOVBUS_")}


@pytest.mark.kafka
def test_publish_sync_and_read_find_the_recorded_broker_and_store(
    kafka: KafkaEndpoint, tmp_path: Path
) -> None:
    store = tmp_path / "state" / "base.db"
    store.parent.mkdir()
    write_local_env(
        tmp_path / ".govbus" / "env",
        {
            "GOVBUS_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "GOVBUS_STORE_URL": f"sqlite:///{store}",
        },
    )
    workdir = tmp_path / "departments" / "psb"
    workdir.mkdir(parents=True)
    key = citizen_id(4242)
    people = workdir / "people.jsonl"
    people.write_text(json.dumps({"entity_key": key, "source_sequence": 1, "sex": "2"}) + "\n")

    published = run_govbus(
        "publish", "-d", "PSB", "-r", "BR-PERSON", "people.jsonl", env=fresh_shell(), cwd=workdir
    )
    assert published.code == 0, published.stderr  # every line published: exit 0
    assert "published: 1" in published.stdout and "rejected: 0" in published.stdout

    group = f"local-setup-{os.getpid()}"
    synced = run_govbus(
        "sync",
        "--until-idle",
        "--max-idle-seconds",
        "2",
        "--group",
        group,
        env=fresh_shell(),
        cwd=workdir,
    )
    assert store.is_file(), synced.stderr  # the recorded store, not ./base.db
    assert not (workdir / "base.db").exists()

    shown = run_govbus("store", "get", "person", key, env=fresh_shell(), cwd=workdir)
    assert shown.code == 0, shown.stderr
    assert "sex" in shown.stdout and "PSB" in shown.stdout


@pytest.mark.kafka
def test_a_recorded_secure_cluster_logs_commands_in(
    kafka_secure: ClusterHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = tmp_path / ".govbus" / "env"
    monkeypatch.setenv("GOVBUS_ENV_FILE", str(record))
    env = fresh_shell() | {"GOVBUS_ENV_FILE": str(record)}
    record_cluster(kafka_secure)  # what `govbus dev kafka up --secure` records
    assert kafka_secure.admin is not None
    password = kafka_secure.admin.password

    shown = run_govbus("env", env=env, cwd=tmp_path)
    assert "SASL_PLAINTEXT" in shown.stdout and password not in shown.stdout

    prefix = f"rec{os.getpid()}."
    ensured = run_govbus("admin", "topics", "ensure", "--prefix", prefix, env=env, cwd=tmp_path)
    assert ensured.code == 0, ensured.stderr
    assert f"{prefix}govbus.base.person" in ensured.stdout

    wrong = run_govbus(
        "admin", "topics", "ensure", env=env | {"GOVBUS_SASL_PASSWORD": "not-it"}, cwd=tmp_path
    )
    assert wrong.code == 2
    assert wrong.error_lines == [
        f"error BROKER_UNAVAILABLE: the Kafka broker at {kafka_secure.bootstrap_servers} "
        "refused the credentials (from GOVBUS_SASL_PASSWORD; check GOVBUS_SASL_USERNAME and "
        "GOVBUS_SASL_PASSWORD)"
    ]
