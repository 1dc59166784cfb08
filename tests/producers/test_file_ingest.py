"""File ingestion: ids from file and line, rejects with reasons, no values on the console."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from govbus import Contract, Settings
from govbus.producers import Publisher
from govbus.producers._file_ingest import IngestSummary, ingest_file
from govbus.producers.testing import InMemoryProducer
from govbus.testing import KafkaEndpoint

CITIZEN_ID = "11010519491231002X"
BAD_ID = "110105194912310021"


def write_jsonl(path: Path) -> Path:
    lines = [
        {"entity_key": CITIZEN_ID, "source_sequence": 1, "name": "张三", "sex": "1"},
        "not json at all",
        {"entity_key": BAD_ID, "source_sequence": 2, "name": "李四"},
        {"entity_key": CITIZEN_ID, "source_sequence": 3, "marital_status": "20"},
        {"entity_key": CITIZEN_ID, "source_sequence": 4, "data": {"birth_date": "1949-12-31"}},
        {"entity_key": CITIZEN_ID, "source_sequence": 5, "sex": "7"},
    ]
    path.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines)
        + "\n",
        encoding="utf-8",
    )
    return path


def run(path: Path, contract: Contract, producer: InMemoryProducer) -> IngestSummary:
    publisher = Publisher("PSB", Settings(), contract=contract, producer=producer)
    resource = contract.catalog.resource("BR-PERSON")
    return ingest_file(path, publisher, resource, path.with_suffix(".rejects.jsonl"))


def test_jsonl_publishes_valid_lines_and_keeps_rejects_with_codes(
    tmp_path: Path, contract: Contract
) -> None:
    path = write_jsonl(tmp_path / "people.jsonl")
    producer = InMemoryProducer()
    summary = run(path, contract, producer)
    assert summary.published == 2
    assert dict(summary.rejected_by_code) == {
        "MALFORMED_PAYLOAD": 1,
        "INVALID_IDENTIFIER": 1,
        "NOT_AUTHORITATIVE": 1,
        "SCHEMA_MISMATCH": 1,
    }
    rejects = [json.loads(x) for x in path.with_suffix(".rejects.jsonl").read_text().splitlines()]
    assert [(r["line"], r["code"]) for r in rejects] == [
        (2, "MALFORMED_PAYLOAD"),
        (3, "INVALID_IDENTIFIER"),
        (4, "NOT_AUTHORITATIVE"),
        (6, "SCHEMA_MISMATCH"),
    ]
    assert rejects[1]["record"]["entity_key"] == BAD_ID  # the department's own data, kept
    assert rejects[2]["field"] == "marital_status"


def test_a_rerun_produces_the_same_event_ids(tmp_path: Path, contract: Contract) -> None:
    path = write_jsonl(tmp_path / "people.jsonl")
    first, second = InMemoryProducer(), InMemoryProducer()
    run(path, contract, first)
    run(path, contract, second)
    ids = [
        [contract.decode(m.topic_name, m.value).event_id for m in p.log] for p in (first, second)
    ]
    assert ids[0] == ids[1] and len(set(ids[0])) == 2
    path.write_text(path.read_text() + "\n")  # another file: other ids
    third = InMemoryProducer()
    run(path, contract, third)
    assert [contract.decode(m.topic_name, m.value).event_id for m in third.log] != ids[0]


def test_csv_empty_cells_leave_fields_untouched(tmp_path: Path, contract: Contract) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        f"entity_key,source_sequence,name,sex,phone\n{CITIZEN_ID},1,张三,,\n{BAD_ID},2,,1,\n",
        encoding="utf-8",
    )
    producer = InMemoryProducer()
    summary = run(path, contract, producer)
    assert summary.published == 1
    [message] = producer.log
    assert contract.decode(message.topic_name, message.value).changed_fields == ("name",)
    [reject] = [json.loads(x) for x in path.with_suffix(".rejects.jsonl").read_text().splitlines()]
    assert reject["line"] == 3 and reject["code"] == "INVALID_IDENTIFIER"


@pytest.mark.kafka
def test_cli_prints_a_summary_without_personal_values(tmp_path: Path, kafka: KafkaEndpoint) -> None:
    path = write_jsonl(tmp_path / "people.jsonl")
    govbus = str(Path(sys.executable).parent / "govbus")
    result = subprocess.run(
        [govbus, "publish", "--department", "PSB", "--resource", "BR-PERSON", str(path)],
        env=os.environ | {"GOVBUS_BOOTSTRAP_SERVERS": kafka.bootstrap_servers},
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output  # some lines were refused: partly done
    assert "published: 2" in output
    assert "rejected: 4" in output
    assert "NOT_AUTHORITATIVE: 1" in output
    assert str(path) + ".rejects.jsonl" in output
    for value in (CITIZEN_ID, BAD_ID, "张三", "李四"):
        assert value not in output


def test_a_rejected_line_lists_every_problem_it_has(tmp_path: Path, contract: Contract) -> None:
    path = tmp_path / "people.jsonl"
    lines = [
        # A bad identity number, and two fields civil affairs is not the source of.
        {"entity_key": BAD_ID, "source_sequence": 1, "name": "李四", "sex": "1"},
        # A schema problem (no such sex code), and a field that is not civil affairs'.
        {"entity_key": BAD_ID, "source_sequence": 2, "sex": "7", "marital_status": "20"},
        {"entity_key": CITIZEN_ID, "source_sequence": 3, "marital_status": "20"},  # fine
    ]
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))
    publisher = Publisher("CAB", Settings(), contract=contract, producer=InMemoryProducer())
    rejects = tmp_path / "rejects.jsonl"
    summary = ingest_file(path, publisher, contract.catalog.resource("BR-PERSON"), rejects)
    assert summary.published == 1 and summary.rejected == 2
    first, second = (json.loads(x) for x in rejects.read_text().splitlines())
    assert [(p["code"], p.get("field")) for p in first["problems"]] == [
        ("INVALID_IDENTIFIER", "entity_key"),
        ("NOT_AUTHORITATIVE", "name"),
        ("NOT_AUTHORITATIVE", "sex"),
    ]
    assert first["code"] == "INVALID_IDENTIFIER"  # the first, as counted in the summary
    assert "sourced from PSB" in first["message"] and "normal form" not in first["message"]
    assert [(p["code"], p.get("field")) for p in second["problems"]] == [
        ("SCHEMA_MISMATCH", "sex"),
        ("INVALID_IDENTIFIER", "entity_key"),
        ("NOT_AUTHORITATIVE", "sex"),
    ]
    for entry in (first, second):  # the messages name fields, never the values
        assert BAD_ID not in entry["message"] and "李四" not in entry["message"]
