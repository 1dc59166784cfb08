"""The pipelined PostgreSQL relay when a batch's deliveries fail (no broker: a fake producer).

While batch N is produced, the relay has already claimed batch N+1 on its second
connection. If N's deliveries fail, N+1 must not be produced before N is sent again:
otherwise an aggregate's later rows would reach the broker ahead of its failed ones.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import psycopg
import pytest
from confluent_kafka import KafkaError
from stdnum.cn import ric

from govbus import Contract, PersonChanged, PersonData, Settings, parse_cloudevent_headers
from govbus.producers import Publisher, create_outbox_table, write_outbox_event
from govbus.producers._outbox_store import PostgresOutbox
from govbus.producers._relay import run_relay
from govbus.producers.testing import InMemoryMessage

pytestmark = pytest.mark.postgres


class OutageProducer:
    """Acknowledges everything, except that every delivery of flush number `failing_flush`
    fails (a broker outage during one batch)."""

    def __init__(self, failing_flush: int) -> None:
        self.failing_flush = failing_flush
        self.flushes = 0
        self.pending: list[tuple[str, Any, InMemoryMessage]] = []
        self.delivered: list[str] = []  # event ids, in acknowledgement order
        self.failed: list[str] = []

    def produce(self, topic: str, value: Any = None, key: Any = None, **kwargs: Any) -> None:
        event_id = parse_cloudevent_headers(kwargs["headers"]).id
        message = InMemoryMessage(topic, value, key, kwargs["headers"])
        self.pending.append((event_id, kwargs["on_delivery"], message))

    def _serve(self, fail: bool) -> int:
        served, self.pending = self.pending, []
        for event_id, report, message in served:
            if fail:
                self.failed.append(event_id)
                report(KafkaError(KafkaError._MSG_TIMED_OUT), message)
            else:
                self.delivered.append(event_id)
                message.offset_number = len(self.delivered)
                report(None, message)
        return len(served)

    def poll(self, timeout: float) -> int:
        return self._serve(fail=False)

    def flush(self, timeout: float) -> int:
        self.flushes += 1
        self._serve(fail=self.flushes == self.failing_flush)
        return 0

    def __len__(self) -> int:
        return len(self.pending)


def citizen_id(n: int) -> str:
    first17 = f"11010519491231{n:03d}"
    return first17 + ric.calc_check_digit(first17 + "0")


@pytest.mark.parametrize("failing_flush", [1, 2, 3])
def test_failed_batch_is_sent_again_before_the_prefetched_one(
    pg_database: str, contract: Contract, failing_flush: int
) -> None:
    written: list[tuple[str, str]] = []
    with psycopg.connect(pg_database) as conn:
        create_outbox_table(conn)
        for sequence in range(12):
            for a in range(5):
                event = PersonChanged.upsert(
                    department="PSB",
                    key=citizen_id(a),
                    sequence=sequence,
                    data=PersonData(name=f"v{sequence}"),
                )
                write_outbox_event(conn, event)
                written.append((str(event.event_id), citizen_id(a)))
        conn.commit()

    producer = OutageProducer(failing_flush)
    publisher = Publisher("PSB", Settings(), contract=contract, producer=producer)
    store = PostgresOutbox(pg_database)
    try:
        stats = run_relay(store, publisher, until_empty=True, batch_size=8, retry_wait=0)
    finally:
        store.close()

    assert len(producer.failed) == 8  # the whole batch of the failing flush
    assert stats.failed == 8
    assert stats.sent == len(written)
    with psycopg.connect(pg_database) as conn:
        row = conn.execute("SELECT count(*) FROM govbus_outbox WHERE sent_at IS NULL").fetchone()
    assert row == (0,)
    # Failed deliveries never reached the broker: what did is each event once, in order.
    aggregate_of = dict(written)
    delivered: dict[str, list[str]] = defaultdict(list)
    for event_id in producer.delivered:
        delivered[aggregate_of[event_id]].append(event_id)
    expected: dict[str, list[str]] = defaultdict(list)
    for event_id, aggregate in written:
        expected[aggregate].append(event_id)
    assert delivered == expected
