"""Publishing throughput: govbus Publisher vs a raw confluent-kafka Producer, same run.

    python -m bench.publish [--events N] [--relay-rows M] [--rounds R] [--chunk C]
                            [--bootstrap HOST:PORT] [--pg-dsn DSN] [--skip-relay]

Producer (the issue's ratio): `Publisher.publish_many` in batches of C -- the full path:
department, identifier, authority and schema checks, Avro encoding, size limit, CloudEvents
headers, produce with back-pressure, one delivery handle per batch, every receipt checked
-- against a raw confluent-kafka `produce` loop (minimal delivery callback, BufferError ->
poll retry) producing the same records pre-encoded (value, key, headers), with the same
idempotent `producer_config`, to the same topic. Also: `Publisher.publish` (a delivery
result per event) and `Publisher.send` of the pre-encoded records (the produce path
alone). Best of R rounds, the sides interleaved. `GOVBUS_NATIVE=0` measures pure Python.

Relay: M outbox rows in PostgreSQL relayed by the govbus relay (parse, check, encode,
produce, ack, mark sent) vs a raw relay (SELECT, produce the stored JSON, flush, UPDATE).

Without --bootstrap a local broker named `bench` is started (`govbus dev kafka up --name
bench`) and left running; without --pg-dsn a PostgreSQL named `bench` likewise.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from confluent_kafka import Producer
from stdnum.cn import ric

from govbus import (
    PersonChanged,
    PersonData,
    Settings,
    ensure_topics,
    load_contract,
    native_available,
)
from govbus import producer_config as make_producer_config
from govbus.producers import OutgoingRecord, Publisher, create_outbox_table, write_outbox_event
from govbus.producers._outbox_store import PostgresOutbox
from govbus.producers._relay import run_relay

TOPIC = "govbus.base.person"


def citizen_id(n: int) -> str:
    first17 = f"110105{19490101 + n % 28:08d}{n % 1000:03d}"
    return first17 + ric.calc_check_digit(first17 + "0")


def make_events(count: int) -> list[PersonChanged]:
    return [
        PersonChanged.upsert(
            department="PSB",
            key=citizen_id(i % 5000),
            sequence=i,
            data=PersonData(name="张三", residence_address="北京市东城区某某街道1号", sex="1"),
        )
        for i in range(count)
    ]


def timed(run: Callable[[], None]) -> float:
    began = time.perf_counter()
    run()
    return time.perf_counter() - began


def raw_produce(conf: dict[str, Any], records: list[OutgoingRecord]) -> float:
    producer = Producer(conf)
    errors: list[Any] = []

    def report(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(err)

    # Plain tuples, built before the clock starts (Any: the stub's header list is invariant).
    plain: list[tuple[str, bytes, bytes, Any]] = [
        (r.topic, r.value, r.key, r.headers) for r in records
    ]

    def run() -> None:
        for topic, value, key, headers in plain:
            while True:
                try:
                    producer.produce(
                        topic, value=value, key=key, headers=headers, on_delivery=report
                    )
                    break
                except BufferError:
                    producer.poll(0.05)
        producer.flush(120)

    seconds = timed(run)
    assert not errors, errors[:3]
    return seconds


def govbus_send(publisher: Publisher, records: list[OutgoingRecord]) -> float:
    def run() -> None:
        for r in records:
            publisher.send(r)
        failures = publisher.flush(120)
        assert not failures, failures[:3]

    return timed(run)


def govbus_publish(publisher: Publisher, events: list[PersonChanged]) -> float:
    def run() -> None:
        for e in events:
            publisher.publish(e)
        failures = publisher.flush(120)
        assert not failures, failures[:3]

    return timed(run)


def govbus_publish_many(publisher: Publisher, events: list[PersonChanged], chunk: int) -> float:
    def run() -> None:
        batches = [
            publisher.publish_many(events[i : i + chunk]) for i in range(0, len(events), chunk)
        ]
        failures = publisher.flush(120)
        assert not failures, failures[:3]
        for batch in batches:
            receipt = batch.result(0)
            assert receipt.ok and receipt.delivered == batch.produced, receipt

    return timed(run)


def fill_outbox(dsn: str, events: list[PersonChanged]) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute("DROP TABLE IF EXISTS govbus_outbox CASCADE")
        create_outbox_table(conn)
        with conn.cursor() as cursor:
            for e in events:
                write_outbox_event(cursor, e)
        conn.commit()


def relay_govbus(dsn: str, settings: Settings) -> float:
    contract = load_contract(settings)
    store = PostgresOutbox(dsn)
    with Publisher("PSB", settings, contract=contract) as publisher:

        def run() -> None:
            run_relay(store, publisher, until_empty=True, batch_size=5000)

        seconds = timed(run)
    store.close()
    return seconds


def relay_raw(dsn: str, conf: dict[str, Any]) -> float:
    """SELECT a batch, produce the stored JSON as is, flush, mark sent, commit; repeat."""
    producer = Producer(conf)

    def run() -> None:
        with psycopg.connect(dsn) as conn:
            while True:
                rows = conn.execute(
                    "SELECT position, aggregateid, payload::text FROM govbus_outbox "
                    "WHERE sent_at IS NULL ORDER BY position LIMIT 5000 FOR UPDATE"
                ).fetchall()
                if not rows:
                    conn.commit()
                    return
                for _, key, payload in rows:
                    while True:
                        try:
                            producer.produce(TOPIC, value=payload.encode(), key=key.encode())
                            break
                        except BufferError:
                            producer.poll(0.05)
                producer.flush(120)
                conn.execute(
                    "UPDATE govbus_outbox SET sent_at = now() WHERE position = ANY(%s)",
                    ([r[0] for r in rows],),
                )
                conn.commit()

    return timed(run)


def local_broker() -> str:
    from govbus.dev.kafka import start_cluster

    return start_cluster("bench").bootstrap_servers


def local_postgres() -> str:
    from govbus.dev.postgres import start_postgres

    server = start_postgres("bench")
    database = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {database}")
    return server.dsn(database)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--relay-rows", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=2, help="best of R, sides interleaved")
    parser.add_argument("--chunk", type=int, default=5000, help="events per publish_many call")
    parser.add_argument("--skip-relay", action="store_true")
    parser.add_argument("--bootstrap")
    parser.add_argument("--pg-dsn")
    args = parser.parse_args()

    bootstrap = args.bootstrap or local_broker()
    settings = Settings(bootstrap_servers=bootstrap)
    conf = make_producer_config(settings)
    ensure_topics({"bootstrap.servers": bootstrap}, [TOPIC], partitions=6)
    contract = load_contract(settings)
    publisher = Publisher("PSB", settings, contract=contract)
    print(f"broker {bootstrap}; preparing {args.events} events ...", flush=True)
    events = make_events(args.events)
    records = [publisher.prepare(e) for e in events]
    size = sum(r.size for r in records) / len(records)
    print(f"average record {size:.0f} bytes (value + key + headers)")

    raw_best = send_best = publish_best = many_best = float("inf")
    for _ in range(args.rounds):
        raw_best = min(raw_best, raw_produce(conf, records))
        many_best = min(many_best, govbus_publish_many(publisher, events, args.chunk))
        publish_best = min(publish_best, govbus_publish(publisher, events))
        send_best = min(send_best, govbus_send(publisher, records))
    n = len(records)
    native = "native" if native_available(settings) else "pure Python"
    print(f"raw confluent-kafka produce : {n / raw_best:>10,.0f} events/s (pre-encoded)")
    print(f"govbus publish_many ({native}, batches of {args.chunk}): {n / many_best:,.0f} events/s")
    print(f"ratio publish_many / raw    : {raw_best / many_best:>10.2f}")
    print(f"govbus Publisher.publish    : {n / publish_best:>10,.0f} events/s (a result per event)")
    print(f"ratio publish / raw         : {raw_best / publish_best:>10.2f}")
    print(f"govbus Publisher.send       : {n / send_best:>10,.0f} events/s (pre-encoded)")
    print(f"ratio send / raw            : {raw_best / send_best:>10.2f}")

    if args.skip_relay:
        return
    dsn = args.pg_dsn or local_postgres()
    relay_events = events[: args.relay_rows]
    fill_outbox(dsn, relay_events)
    raw_relay = relay_raw(dsn, conf)
    fill_outbox(dsn, relay_events)
    govbus_relay = relay_govbus(dsn, settings)
    m = len(relay_events)
    print(f"raw relay (SELECT+produce)  : {m / raw_relay:>10,.0f} rows/s")
    print(f"govbus relay (PostgreSQL)   : {m / govbus_relay:>10,.0f} rows/s")
    print(f"ratio govbus / raw          : {raw_relay / govbus_relay:>10.2f}")


if __name__ == "__main__":
    main()
