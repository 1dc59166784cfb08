"""Outbox relay on PostgreSQL with the real broker.

- SIGKILL between the broker's ack and mark-sent (held there by a table lock the test takes):
  every row reaches Kafka at least once, in order per aggregate, duplicates keep their event
  id (checked against the rows written).
- Two relays side by side never reorder an aggregate.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from stdnum.cn import ric

from govbus import (
    Contract,
    PersonChanged,
    PersonData,
    Settings,
    ensure_topics,
    parse_cloudevent_headers,
)
from govbus.producers import Publisher, create_outbox_table, write_outbox_event
from govbus.producers._outbox_store import PostgresOutbox
from govbus.producers._relay import run_relay
from govbus.testing import KafkaEndpoint

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
TOPIC = "govbus.base.person"


def citizen_id(n: int) -> str:
    first17 = f"11010519491231{n:03d}"
    return first17 + ric.calc_check_digit(first17 + "0")


def write_events(
    dsn: str, aggregates: int, per_aggregate: int, interleaved: bool = True
) -> list[tuple[str, str]]:
    """Write events in several transactions; returns the reference (id, aggregate) list."""
    written: list[tuple[str, str]] = []
    with psycopg.connect(dsn) as conn:
        create_outbox_table(conn)
        conn.commit()
        for outer in range(per_aggregate if interleaved else aggregates):
            for inner in range(aggregates if interleaved else per_aggregate):
                sequence, a = (outer, inner) if interleaved else (inner, outer)
                key = citizen_id(a)
                event = PersonChanged.upsert(
                    department="PSB",
                    key=key,
                    sequence=sequence,
                    data=PersonData(name=f"v{sequence}"),
                )
                write_outbox_event(conn, event)
                written.append((str(event.event_id), key))
            conn.commit()
    return written


def end_offsets(kafka: KafkaEndpoint) -> list[TopicPartition]:
    """The topic's end offsets; retried while a just-created topic has no leader yet."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return _end_offsets(kafka)
        except KafkaException as exc:
            retriable = exc.args[0].code() in (
                KafkaError.NOT_LEADER_FOR_PARTITION,
                KafkaError.LEADER_NOT_AVAILABLE,
                KafkaError.UNKNOWN_TOPIC_OR_PART,
            )
            if not retriable or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _end_offsets(kafka: KafkaEndpoint) -> list[TopicPartition]:
    consumer = Consumer(kafka.client_config() | {"group.id": "offsets"})
    try:
        partitions = consumer.list_topics(TOPIC, timeout=10).topics[TOPIC].partitions
        offsets = []
        for p in partitions:
            _, high = consumer.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10)
            offsets.append(TopicPartition(TOPIC, p, high))
        return offsets
    finally:
        consumer.close()


def read_from(kafka: KafkaEndpoint, start: list[TopicPartition], contract: Contract) -> list:
    """(event id, entity key) of every record after `start`, in partition order."""
    consumer = Consumer(kafka.client_config() | {"group.id": f"read-{uuid.uuid4()}"})
    consumer.assign(start)
    records = []
    idle = 0
    while idle < 10:
        message = consumer.poll(0.3)
        if message is None:
            idle += 1
            continue
        idle = 0
        if message.error() is None:
            event_id = parse_cloudevent_headers(message.headers()).id
            event = contract.decode(TOPIC, message.value())
            assert str(event.event_id) == event_id
            records.append((event_id, event.entity_key))
    consumer.close()
    return records


def by_aggregate(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for event_id, key in pairs:
        out[key].append(event_id)
    return out


def first_occurrences(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def relay_command(dsn: str) -> list[str]:
    govbus = str(Path(sys.executable).parent / "govbus")
    return [govbus, "relay", "--db", dsn, "--department", "PSB", "--batch-size", "40"]


def unsent(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM govbus_outbox WHERE sent_at IS NULL").fetchone()
    assert row is not None
    return int(row[0])


def produced_since(kafka: KafkaEndpoint, start: list[TopicPartition]) -> int:
    begin = {tp.partition: tp.offset for tp in start}
    return sum(tp.offset - begin.get(tp.partition, 0) for tp in end_offsets(kafka))


def relay_backends(monitor: psycopg.Connection, exclude: set[int]) -> set[int]:
    rows = monitor.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
    ).fetchall()
    return {pid for (pid,) in rows} - exclude


def marking_blocked(monitor: psycopg.Connection) -> bool:
    row = monitor.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND query LIKE 'UPDATE govbus_outbox SET sent_at%'"
    ).fetchone()
    return row is not None and row[0] > 0


def test_relay_killed_between_ack_and_mark_delivers_at_least_once_in_order(
    kafka: KafkaEndpoint, pg_database: str, contract: Contract
) -> None:
    ensure_topics(kafka.client_config(), [TOPIC])
    start = end_offsets(kafka)
    written = write_events(pg_database, aggregates=4, per_aggregate=30)
    env = os.environ | {"GOVBUS_BOOTSTRAP_SERVERS": kafka.bootstrap_servers}

    # The fault, from the database's side: a SHARE lock lets the relay claim rows (FOR
    # UPDATE takes ROW SHARE) but not mark them sent (UPDATE waits), so it hangs after the
    # broker acknowledged its batches. The pipelined relay claims and produces the second
    # batch of 40 while the first one's marks wait, then waits itself.
    with (
        psycopg.connect(pg_database, autocommit=True) as monitor,
        psycopg.connect(pg_database) as blocker,
    ):
        blocker.execute("LOCK TABLE govbus_outbox IN SHARE MODE")
        ours = {monitor.info.backend_pid, blocker.info.backend_pid}
        crashing = subprocess.Popen(relay_command(pg_database), env=env)
        deadline = time.monotonic() + 60
        while not (marking_blocked(monitor) and produced_since(kafka, start) >= 80):
            assert crashing.poll() is None, "relay exited before its marks were blocked"
            assert time.monotonic() < deadline, "relay never got to mark its acked batches"
            time.sleep(0.1)
        backends = relay_backends(monitor, ours)
        crashing.send_signal(signal.SIGKILL)
        assert crashing.wait(10) == -signal.SIGKILL
        blocker.rollback()  # the killed relay's sessions end, their transactions roll back
        while relay_backends(monitor, ours) & backends:
            assert time.monotonic() < deadline, "the killed relay's sessions linger"
            time.sleep(0.05)
    assert produced_since(kafka, start) == 80  # acked by the broker, never marked
    assert unsent(pg_database) == len(written)

    finished = subprocess.run(
        [*relay_command(pg_database), "--until-empty"], env=env, timeout=120, check=True
    )
    assert finished.returncode == 0
    assert unsent(pg_database) == 0

    delivered = [r for r in read_from(kafka, start, contract) if r[0] in dict(written)]
    expected = by_aggregate(written)
    got = by_aggregate(delivered)
    assert set(got) == set(expected)
    for key, ids in expected.items():
        assert first_occurrences(got[key]) == ids  # every event, in order
    duplicates = len(delivered) - len(written)
    assert duplicates == 80  # the first two batches, sent again after the crash


def test_two_relays_side_by_side_keep_each_aggregate_in_order(
    kafka: KafkaEndpoint, pg_database: str, contract: Contract
) -> None:
    ensure_topics(kafka.client_config(), [TOPIC])
    start = end_offsets(kafka)
    settings = Settings(bootstrap_servers=kafka.bootstrap_servers)
    with psycopg.connect(pg_database) as conn:
        create_outbox_table(conn)
        conn.commit()
    # One transaction per aggregate: consecutive batches overlap on few aggregates.
    written = write_events(pg_database, aggregates=100, per_aggregate=4, interleaved=False)
    stop = threading.Event()
    stats = []

    def relay() -> None:
        with Publisher("PSB", settings, contract=contract) as publisher:
            store = PostgresOutbox(pg_database)
            stats.append(run_relay(store, publisher, stop=stop, batch_size=25, idle_wait=0.2))
            store.close()

    threads = [threading.Thread(target=relay) for _ in range(2)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 90
    while unsent(pg_database) and time.monotonic() < deadline:
        time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join(30)
    assert unsent(pg_database) == 0
    assert all(s.sent > 0 for s in stats), "both relays should have taken a share"

    delivered = [r for r in read_from(kafka, start, contract) if r[0] in dict(written)]
    assert sorted(delivered) == sorted(written)  # exactly once without crashes
    got = by_aggregate(delivered)
    for key, ids in by_aggregate(written).items():
        assert got[key] == ids
