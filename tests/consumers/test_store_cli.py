"""`govbus store get` through the real command on a real SQLite store: the sharing policy
withholds not-shared fields, masks personal ones, and `--unmasked` is logged without a value."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest

from govbus import Catalog, ChangeEvent
from govbus.consumers import KafkaPosition, SourcedEvent, apply_batch, open_store
from govbus.consumers.testing import MARRIAGE, certificate, citizen_id, person

GOVBUS = str(Path(sys.executable).with_name("govbus"))
HOLDER = citizen_id(4242)
NUMBER = "J110105-2020-004242"
ATTRIBUTES = {"spouse_name": "李四娘", "spouse_id_number": citizen_id(4343)}
PHONE = "13912345678"


def fill(url: str, catalog: Catalog, events: Sequence[ChangeEvent]) -> None:  # type: ignore[type-arg]
    store = open_store(url)
    try:
        items = [
            SourcedEvent(e, KafkaPosition(f"govbus.base.{e.entity}".replace("_", "-"), 0, i))
            for i, e in enumerate(events)
        ]
        result = apply_batch(store, items, catalog=catalog, group="test")
        assert result.applied_events == len(events)
    finally:
        store.close()


@pytest.fixture
def store_url(tmp_path: Path, catalog: Catalog) -> str:
    url = f"sqlite:///{tmp_path / 'base.db'}"
    fill(
        url,
        catalog,
        [
            person(HOLDER, 1, name="张三丰", sex="1", ethnicity="01", birth_date=date(1985, 3, 12)),
            person(HOLDER, 2, department="HRSS", phone=PHONE),
            person(HOLDER, 3, department="CAB", marital_status="20"),
            certificate(
                MARRIAGE,
                NUMBER,
                1,
                "CAB",
                holder_id=HOLDER,
                holder_type="person",
                valid_from=date(2020, 5, 20),
                status="valid",
                attributes=ATTRIBUTES,
            ),
        ],
    )
    return url


def store_get(store_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "400", "GOVBUS_LOG_FORMAT": "json", "GOVBUS_LOG_LEVEL": "INFO"}
    return subprocess.run(
        [GOVBUS, "store", "get", *args, "--store", store_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def rows(stdout: str) -> dict[str, str]:
    """field → value cell of the printed table."""
    out = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("│┃").split("│")]
        if len(cells) >= 2 and cells[0] and cells[0] not in ("field",):
            out[cells[0]] = cells[1]
    return out


def test_the_marriage_certificates_attributes_are_withheld(store_url: str) -> None:
    result = store_get(store_url, "certificate", f"{MARRIAGE}:{NUMBER}")
    assert result.returncode == 0, result.stderr
    shown = rows(result.stdout)
    assert shown["attributes"] == "<withheld: not shared>"
    for value in (*ATTRIBUTES.values(), NUMBER, HOLDER):
        assert value not in result.stdout
    assert shown["holder_id"] == HOLDER[:6] + "*" * 8 + HOLDER[-4:]
    # status is personal on a marriage certificate and has no mask rule: masked in full.
    assert shown["status"] == "*****"
    assert shown["holder_type"] == "person"
    assert f"{MARRIAGE}:{'*' * len(NUMBER)}" in result.stdout
    assert "unmasked" not in result.stderr


def test_a_persons_not_shared_phone_is_withheld_and_private_fields_masked(
    store_url: str,
) -> None:
    result = store_get(store_url, "person", HOLDER)
    assert result.returncode == 0, result.stderr
    shown = rows(result.stdout)
    assert shown["phone"] == "<withheld: not shared>"
    assert PHONE not in result.stdout and PHONE[-4:] not in result.stdout
    assert shown["name"] == "张**"
    assert shown["sex"] == "*"
    assert shown["ethnicity"] == "**"
    assert shown["marital_status"] == "**"
    assert shown["birth_date"] == "1985******"
    assert HOLDER not in result.stdout
    # The provenance of a withheld field still shows where it came from.
    assert "HRSS" in result.stdout


def test_unmasked_shows_values_and_logs_who_without_the_key(store_url: str) -> None:
    result = store_get(store_url, "certificate", f"{MARRIAGE}:{NUMBER}", "--unmasked")
    assert result.returncode == 0, result.stderr
    assert rows(result.stdout)["attributes"] == json.dumps(
        ATTRIBUTES, ensure_ascii=False, sort_keys=True
    )
    assert NUMBER in result.stdout
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    [read] = [e for e in events if e.get("event") == "unmasked read"]
    assert read["command"] == "store get certificate"
    assert read["resource"] == "EC-MARRIAGE"
    assert f"(uid {os.geteuid()})" in read["os_user"]
    for value in (NUMBER, HOLDER, *ATTRIBUTES.values()):
        assert value not in result.stderr
