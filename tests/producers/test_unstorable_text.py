"""Text the base store cannot hold (NUL, lone surrogates) is refused on every way in.

The Publisher SDK (`publish`, `publish_many`, with and without the native fast path),
file ingestion, the outbox relay and `POST /v1/events` all refuse it with
UNSTORABLE_TEXT naming the field, never the value; the good events around it go on.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from stdnum.cn import ric

from govbus import (
    CertificateChanged,
    CertificateData,
    Contract,
    ErrorCode,
    GovbusError,
    PersonChanged,
    PersonData,
    Settings,
    load_contract,
    native_available,
)
from govbus._native import native_batch_tracker
from govbus.gateway._app import create_app
from govbus.gateway._ingest import IngestState
from govbus.gateway._settings import GatewaySettings
from govbus.producers import Publisher, create_outbox_table, write_outbox_event
from govbus.producers._fast_path import build_fast_path
from govbus.producers._file_ingest import ingest_file
from govbus.producers._outbox_store import SqliteOutbox
from govbus.producers._outbox_tables import outbox_row
from govbus.producers._relay import run_relay
from govbus.producers.testing import InMemoryProducer

CITIZEN_ID = "11010519491231002X"
NUL_NAME = "张\x00三"
SURROGATE_ADDRESS = "北京\ud800市"  # a lone surrogate, e.g. from a JSON "\ud800" escape


@pytest.fixture(params=["native", "python"])
def any_contract(request: pytest.FixtureRequest, contract: Contract) -> Contract:
    if request.param == "native":
        assert contract.native
        return contract
    return load_contract(Settings(native=False))


def citizen_id(n: int) -> str:
    first17 = f"11010519491231{n:03d}"
    return first17 + ric.calc_check_digit(first17 + "0")


def person(sequence: int, **data: Any) -> PersonChanged:
    return PersonChanged.upsert(
        department="PSB",
        key=CITIZEN_ID,
        sequence=sequence,
        data=PersonData(**(data or {"name": f"n{sequence}"})),
    )


def publisher(contract: Contract, producer: InMemoryProducer | None = None) -> Publisher:
    producer = InMemoryProducer() if producer is None else producer  # falsy when empty
    return Publisher("PSB", Settings(), contract=contract, producer=producer)


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (person(1, name=NUL_NAME), "name"),
        (person(1, residence_address=SURROGATE_ADDRESS), "residence_address"),
        (person(1, name="\x00"), "name"),
        (
            CertificateChanged.upsert(
                department="PSB",
                key="11100000000000000A:X\x001",
                sequence=1,
                data=CertificateData(status="valid"),
            ),
            "entity_key",
        ),
    ],
)
def test_publish_refuses_unstorable_text_naming_the_field(
    any_contract: Contract, event: Any, field: str
) -> None:
    producer = InMemoryProducer()
    with pytest.raises(GovbusError) as refused:
        publisher(any_contract, producer).publish(event)
    assert refused.value.code is ErrorCode.UNSTORABLE_TEXT
    assert refused.value.field == field
    assert "张" not in str(refused.value) and "北京" not in str(refused.value)
    assert producer.log == []


def test_certificate_attribute_keys_and_values_count(any_contract: Contract) -> None:
    for attributes in ({"spouse": "李\x00四"}, {"spouse\x00": "李四"}, {"x": "\udc80"}):
        event = CertificateChanged.upsert(
            department="CAB",
            key="11100000000000000B:M1",
            sequence=1,
            data=CertificateData(status="valid", attributes=attributes),
        )
        cab = Publisher("CAB", Settings(), contract=any_contract, producer=InMemoryProducer())
        with pytest.raises(GovbusError) as refused:
            cab.prepare(event)
        assert (refused.value.code, refused.value.field) == (
            ErrorCode.UNSTORABLE_TEXT,
            "attributes",
        )


def test_publish_many_lists_the_refusal_and_sends_the_rest(any_contract: Contract) -> None:
    producer = InMemoryProducer()
    events = [
        person(1),
        person(2, name=NUL_NAME),
        person(3),
        person(4, household_address=SURROGATE_ADDRESS),
        person(5),
    ]
    psb = publisher(any_contract, producer)
    batch = psb.publish_many(events)
    assert psb.flush(1) == []
    receipt = batch.result(timeout=1)
    assert [(r.index, r.error.code, r.error.field) for r in receipt.refused] == [
        (1, ErrorCode.UNSTORABLE_TEXT, "name"),
        (3, ErrorCode.UNSTORABLE_TEXT, "household_address"),
    ]
    sent = [any_contract.decode(m.topic_name, m.value).source_sequence for m in producer.log]
    assert sent == [1, 3, 5]


@pytest.mark.skipif(
    not native_available(Settings()), reason="native paths not built or switched off"
)
def test_the_native_fast_path_never_vouches_for_unstorable_text(contract: Contract) -> None:
    fast = build_fast_path(contract, "PSB", 1_000_000)
    assert fast is not None
    assert fast.prepare(person(1, name="张三")) is not None  # the fast path serves persons
    for bad in (NUL_NAME, "\x00", "a" * 100 + "\x00", SURROGATE_ADDRESS):
        assert fast.prepare(person(1, name=bad)) is None  # left to Python, which refuses
    # Its produce loop stops at the bad event and hands it back.
    events = [person(1), person(2), person(3, name=NUL_NAME), person(4)]
    tracker = native_batch_tracker(lambda err, msg: None)
    assert fast.produce_many(events, 0, InMemoryProducer(), tracker) == 2


def test_file_ingestion_rejects_the_line_and_publishes_the_others(
    tmp_path: Path, any_contract: Contract
) -> None:
    jsonl = tmp_path / "people.jsonl"
    names = ["张三", "a\x00b", "a\ud800b", "李四"]
    # json.dumps writes the NUL and the lone surrogate as \u escapes, as exports do.
    jsonl.write_text(
        "".join(
            json.dumps({"entity_key": CITIZEN_ID, "source_sequence": n, "name": name}) + "\n"
            for n, name in enumerate(names, start=1)
        ),
        encoding="utf-8",
    )
    csv_file = tmp_path / "people.csv"
    # A raw NUL byte in a cell, and bytes that are not UTF-8 (read as lone surrogates).
    csv_file.write_bytes(
        b"entity_key,source_sequence,name\n"
        + f"{CITIZEN_ID},1,张三\n".encode()
        + f"{CITIZEN_ID},2,".encode()
        + b"a\x00b\n"
        + f"{CITIZEN_ID},3,".encode()
        + b"\xff\xfe\n"
        + f"{CITIZEN_ID},4,李四\n".encode()
    )
    for path, bad_lines in ((jsonl, [2, 3]), (csv_file, [3, 4])):  # CSV: after the header
        producer = InMemoryProducer()
        rejects = path.with_suffix(".rejects.jsonl")
        summary = ingest_file(
            path,
            publisher(any_contract, producer),
            any_contract.catalog.resource("BR-PERSON"),
            rejects,
        )
        assert summary.published == 2, path
        assert dict(summary.rejected_by_code) == {"UNSTORABLE_TEXT": 2}
        lines = [json.loads(line) for line in rejects.read_text(encoding="utf-8").splitlines()]
        assert [(r["line"], r["code"], r["field"]) for r in lines] == [
            (n, "UNSTORABLE_TEXT", "name") for n in bad_lines
        ]
        sent = [any_contract.decode(m.topic_name, m.value).source_sequence for m in producer.log]
        assert sent == [1, 4]


def test_the_relay_marks_the_row_refused_and_sends_the_others(
    tmp_path: Path, contract: Contract
) -> None:
    db = tmp_path / "department.db"
    conn = sqlite3.connect(db)
    create_outbox_table(conn)
    good = [person(1), person(3)]
    nul = person(2, name=NUL_NAME)
    write_outbox_event(conn, good[0])
    write_outbox_event(conn, nul)  # JSON carries it as \u0000
    # A lone surrogate cannot be dumped by pydantic: a department's own code writes the
    # row, with a JSON escape.
    row = list(outbox_row(person(4, name="placeholder")))
    row[4] = row[4].replace("placeholder", "a\\udc80b")
    conn.execute(
        "INSERT INTO govbus_outbox (id, aggregatetype, aggregateid, type, payload) "
        "VALUES (?, ?, ?, ?, ?)",
        row,
    )
    write_outbox_event(conn, good[1])
    conn.commit()

    producer = InMemoryProducer()
    stats = run_relay(SqliteOutbox(str(db)), publisher(contract, producer), until_empty=True)

    assert (stats.sent, stats.refused) == (2, 2)
    assert stats.refusals_by_code == {"UNSTORABLE_TEXT": 2}
    refused = conn.execute(
        "SELECT id, refused_code FROM govbus_outbox WHERE refused_code IS NOT NULL "
        "ORDER BY position"
    ).fetchall()
    assert refused == [(str(nul.event_id), "UNSTORABLE_TEXT"), (row[0], "UNSTORABLE_TEXT")]
    sent = [contract.decode(m.topic_name, m.value).event_id for m in producer.log]
    assert sent == [e.event_id for e in good]


def test_post_events_refuses_unstorable_text_with_its_code(tmp_path: Path) -> None:
    settings = GatewaySettings(
        bootstrap_servers="127.0.0.1:1", gateway_db=f"sqlite:///{tmp_path / 'gateway.db'}"
    )
    app = create_app(settings)
    app.state.ingest = IngestState(settings, ack_timeout=1.0)
    client = TestClient(app, raise_server_exceptions=False)

    def event(sequence: int, **data: str) -> dict[str, object]:
        return {
            "resource": "BR-PERSON",
            "entity_key": CITIZEN_ID,
            "source_sequence": sequence,
            "event_id": str(uuid.uuid4()),
            "data": data,
        }

    # json.dumps sends the NUL and the lone surrogate as \u escapes.
    body = json.dumps(
        {
            "events": [
                event(1, name="张三"),
                event(2, name="secret\x00name"),
                event(3, residence_address="secret\ud800address"),
                {**event(4, name="张三"), "entity_key": CITIZEN_ID[:10] + "\udc80"},
            ]
        }
    )
    response = client.post(
        "/v1/events",
        content=body.encode(),
        headers={"content-type": "application/json"},
        auth=("psb", "dev-psb"),
    )
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [(e["index"], e["code"], e["field"]) for e in errors] == [
        (1, "UNSTORABLE_TEXT", "name"),
        (2, "UNSTORABLE_TEXT", "residence_address"),
        (3, "UNSTORABLE_TEXT", "entity_key"),  # pydantic refuses it first: the same code
    ]
    assert "secret" not in response.text and CITIZEN_ID not in response.text
