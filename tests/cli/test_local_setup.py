"""After `make demo`, commands typed in a fresh shell find its broker and store through
`.govbus/env`, from any subdirectory, without exporting anything."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from govbus import write_local_env
from govbus.consumers.testing import citizen_id
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
