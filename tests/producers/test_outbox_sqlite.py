"""Outbox relay on SQLite, against the in-memory producer: order, marks, refusals."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from stdnum.cn import ric

from govbus import Contract, PersonChanged, PersonData, Settings
from govbus.producers import Publisher, create_outbox_table, write_outbox_event
from govbus.producers._outbox_store import SqliteOutbox
from govbus.producers._relay import run_relay
from govbus.producers.testing import InMemoryProducer


def citizen_id(n: int) -> str:
    first17 = f"11010519491231{n:03d}"
    return first17 + ric.calc_check_digit(first17 + "0")


def test_relay_publishes_committed_rows_in_order_and_marks_them(
    tmp_path: Path, contract: Contract
) -> None:
    db = tmp_path / "department.db"
    conn = sqlite3.connect(db)
    create_outbox_table(conn)
    written = []
    for sequence in range(30):
        event = PersonChanged.upsert(
            department="PSB",
            key=citizen_id(sequence % 3),
            sequence=sequence,
            data=PersonData(name=f"n{sequence}"),
        )
        write_outbox_event(conn, event)
        written.append(str(event.event_id))
    # Not authoritative for marital_status: refused by the relay, recorded, never sent.
    bad = PersonChanged.upsert(
        department="PSB", key=citizen_id(1), sequence=99, data=PersonData(marital_status="20")
    )
    write_outbox_event(conn, bad)
    conn.commit()
    rolled_back = PersonChanged.upsert(
        department="PSB", key=citizen_id(2), sequence=100, data=PersonData(sex="1")
    )
    write_outbox_event(conn, rolled_back)
    conn.rollback()

    producer = InMemoryProducer(capacity=7)
    publisher = Publisher("PSB", Settings(), contract=contract, producer=producer)
    stats = run_relay(SqliteOutbox(str(db)), publisher, until_empty=True, batch_size=8)

    sent_ids = [contract.decode(m.topic_name, m.value).event_id for m in producer.log]
    assert [str(i) for i in sent_ids] == written
    assert (stats.sent, stats.refused) == (30, 1)
    rows = conn.execute(
        "SELECT id, sent_at IS NOT NULL, refused_code FROM govbus_outbox ORDER BY position"
    ).fetchall()
    assert [r[0] for r in rows] == [*written, str(bad.event_id)]
    assert all(r[1] for r in rows)
    assert rows[-1][2] == "NOT_AUTHORITATIVE"
