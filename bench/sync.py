"""Store sync benchmark: `python -m bench.sync [--events N] [--entities N] [--rounds N]
[--skip-kafka]`.

1. apply_batch events/s into SQLite and PostgreSQL vs a raw bulk upsert of one row per
   event with the same state columns, the same driver (executemany / COPY + INSERT … ON
   CONFLICT) and the same transaction size, same run, no Kafka; both sides `--rounds`
   times, alternating, best of each.
2. End to end: publish (separate process, paced) → visible in the store (after the batch's
   DB commit), p50/p99 at given rates, real Kafka + PostgreSQL.
3. Peak RSS of a `govbus sync` process applying N entities into PostgreSQL.

Between 1 and 2, `bench.sync_keys`: hot keys (1000 updates of a key a batch) against the
same events on spread keys, and the dedup table's size after a long run.

Needs GOVBUS_BOOTSTRAP_SERVERS (e.g. from `govbus dev kafka up --name bench`) and
BENCH_PG_DSN (a PostgreSQL database URL; `govbus dev postgres up` prints one).
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg

from govbus import EntityKind, Settings, admin_config, ensure_topics, load_contract
from govbus.consumers import KafkaPosition, SourcedEvent, apply_batch, open_store
from govbus.consumers._batch_items import BatchItem, BatchResult
from govbus.consumers._migrations import DIALECTS
from govbus.consumers._sync import SyncOptions, SyncService
from govbus.consumers._tables import columns
from govbus.consumers.testing import citizen_id, person, publish_events

BATCH = 5000


def make_events(count: int, entities: int) -> list[SourcedEvent]:
    keys = [citizen_id(i) for i in range(entities)]
    return [
        SourcedEvent(
            person(keys[i % entities], i // entities + 1, name=f"n{i}", residence_address=f"a{i}"),
            KafkaPosition("govbus.base.person", 0, i),
        )
        for i in range(count)
    ]


def time_apply(url: str, events: list[SourcedEvent]) -> float:
    store = open_store(url)
    settings = Settings()  # GOVBUS_NATIVE=0 measures the Python row builder
    catalog = load_contract(settings).catalog
    start = time.perf_counter()
    for i in range(0, len(events), BATCH):
        batch = events[i : i + BATCH]
        apply_batch(store, batch, catalog=catalog, group="bench", native=settings.native)
    elapsed = time.perf_counter() - start
    store.close()
    return len(events) / elapsed


# The raw baseline writes what apply_batch writes to the persons table, minus what only
# the sync needs: every state column (key, the person fields, deleted, updated_at), one
# row per event, same batch = same transaction size, same driver and bulk path.
RAW_COLUMNS = ["entity_key", *columns(EntityKind.PERSON), "deleted", "updated_at"]


def raw_rows(events: list[SourcedEvent]) -> list[list[Any]]:
    names = list(columns(EntityKind.PERSON))
    rows = []
    for s in events:
        changed = s.event.changed_values()
        rows.append([s.event.entity_key, *(changed.get(n) for n in names), False, None])
    return rows


def _raw_ddl(types: dict[str, str]) -> str:
    cols = columns(EntityKind.PERSON)
    fields = ", ".join(f"{n} {types[t]}" for n, t in cols.items())
    return (
        f"CREATE TABLE raw (entity_key {types['text']} PRIMARY KEY, {fields}, "
        f"deleted {types['bool']} NOT NULL, updated_at {types['ts']} NOT NULL)"
    )


def _raw_upsert(select: str) -> str:
    updates = ", ".join(f"{n} = excluded.{n}" for n in RAW_COLUMNS[1:])
    return (
        f"INSERT INTO raw ({', '.join(RAW_COLUMNS)}) {select} "
        f"ON CONFLICT (entity_key) DO UPDATE SET {updates}"
    )


def time_raw_sqlite(path: str, events: list[SourcedEvent]) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(_raw_ddl(DIALECTS["sqlite"]))
    rows = raw_rows(events)
    dates = [i for i, n in enumerate(RAW_COLUMNS) if n in ("birth_date", "death_date")]
    insert = _raw_upsert(f"VALUES ({', '.join('?' * len(RAW_COLUMNS))})")
    start = time.perf_counter()
    for i in range(0, len(rows), BATCH):
        updated = datetime.now(UTC).isoformat()
        chunk = []
        for row in rows[i : i + BATCH]:
            values = [*row[:-2], 0, updated]
            for d in dates:  # the driver's only conversion work, as in the store
                values[d] = values[d] and values[d].isoformat()
            chunk.append(values)
        conn.execute("BEGIN")
        conn.executemany(insert, chunk)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return len(rows) / elapsed


def time_raw_postgres(dsn: str, events: list[SourcedEvent]) -> float:
    rows = raw_rows(events)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS raw")
        conn.execute(_raw_ddl(DIALECTS["postgresql"]))
        conn.execute("CREATE TEMP TABLE tmp_raw (LIKE raw) ON COMMIT DELETE ROWS")
        insert = _raw_upsert(f"SELECT {', '.join(RAW_COLUMNS)} FROM tmp_raw")
        pg = DIALECTS["postgresql"]
        types = [
            "text",
            *(pg[t] for t in columns(EntityKind.PERSON).values()),
            "bool",
            "timestamptz",
        ]
        start = time.perf_counter()
        for i in range(0, len(rows), BATCH):
            updated = datetime.now(UTC)
            chunk = {r[0]: r for r in rows[i : i + BATCH]}  # ON CONFLICT needs unique keys
            with conn.transaction(), conn.cursor() as cur:
                with cur.copy(
                    f"COPY tmp_raw ({', '.join(RAW_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
                ) as copy:
                    copy.set_types(types)  # binary, as the store's COPY
                    for row in chunk.values():
                        copy.write_row((*row[:-1], updated))
                cur.execute(insert)
        elapsed = time.perf_counter() - start
        conn.execute("DROP TABLE raw")
    return len(rows) / elapsed


def reset_postgres(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


def _best_of(rounds: int, ours: Callable[[], float], raw: Callable[[], float]) -> str:
    """Both sides `rounds` times, alternating (the machine's load drifts); best of each."""
    ours_rates: list[float] = []
    raw_rates: list[float] = []
    for _ in range(rounds):
        ours_rates.append(ours())
        raw_rates.append(raw())
    per_round = " ".join(f"{o / r:.2f}" for o, r in zip(ours_rates, raw_rates, strict=True))
    best, best_raw = max(ours_rates), max(raw_rates)
    return (
        f"apply_batch {best:9.0f} ev/s   raw {best_raw:9.0f} rows/s   ratio {best / best_raw:.2f}"
        f"   (best of {rounds}; per round {per_round})"
    )


def bench_apply(events: int, entities: int, dsn: str | None, rounds: int) -> None:
    data = make_events(events, entities)
    print(
        f"## apply_batch vs raw bulk upsert: {events} events over {entities} persons, "
        f"batches of {BATCH}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        paths = (f"{tmp}/{n}" for n in itertools.count())
        line = _best_of(
            rounds,
            lambda: time_apply(f"sqlite:///{next(paths)}.db", data),
            lambda: time_raw_sqlite(f"{next(paths)}.db", data),
        )
    print(f"SQLite     {line}")
    if dsn:

        def ours() -> float:
            reset_postgres(dsn)
            return time_apply(dsn, data)

        print(f"PostgreSQL {_best_of(rounds, ours, lambda: time_raw_postgres(dsn, data))}")


def _publish_paced(bootstrap: str, prefix: str, rate: int, seconds: float, start: int) -> None:
    settings = Settings(bootstrap_servers=bootstrap)
    contract = load_contract(settings)
    tick = 0.01
    per_tick = max(1, int(rate * tick))
    sent = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        chunk = [
            person(citizen_id(start + sent + j), 1, name="x") for j in range(per_tick)
        ]  # occurred_at = now: the publish time
        publish_events(settings, contract, chunk, topic_prefix=prefix, wait=False)
        sent += per_tick
        delay = t0 + sent / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    publish_events(settings, contract, [], topic_prefix=prefix)


def bench_latency(bootstrap: str, dsn: str, rates: list[int], seconds: float) -> None:
    print(f"## publish -> visible in PostgreSQL, {seconds:.0f} s per rate")
    for n, rate in enumerate(rates):
        reset_postgres(dsn)
        prefix = f"bench{uuid.uuid4().hex[:6]}."
        settings = Settings(bootstrap_servers=bootstrap, dlq_topic=prefix + "dlq")
        contract = load_contract(settings)
        ensure_topics(admin_config(settings), [prefix + t for t in contract.catalog.topics()])
        store = open_store(dsn)
        latencies: list[float] = []

        def visible(
            items: list[BatchItem], _result: BatchResult, latencies: list[float] = latencies
        ) -> None:
            now = datetime.now(UTC)
            latencies.extend(
                (now - i.event.occurred_at).total_seconds() * 1000
                for i in items
                if isinstance(i, SourcedEvent)
            )

        service = SyncService(
            settings,
            contract,
            store,
            SyncOptions(topic_prefix=prefix, max_idle_seconds=8),
            on_batch=visible,
        )
        runner = threading.Thread(target=service.run)
        runner.start()
        time.sleep(2)  # join the group first
        publisher = multiprocessing.Process(
            target=_publish_paced, args=(bootstrap, prefix, rate, seconds, n * 10_000_000)
        )
        publisher.start()
        publisher.join()
        runner.join()
        store.close()
        # Drop the first 10 % of events in publish order (producer and fetch warm-up), not
        # the fastest 10 %: batches arrive (per partition) in publish order.
        warm = sorted(latencies[len(latencies) // 10 :] or latencies)
        p50 = statistics.median(warm)
        p99 = warm[int(len(warm) * 0.99) - 1]
        print(
            f"{rate:6d} ev/s offered: {len(latencies)} events, p50 {p50:6.1f} ms, "
            f"p99 {p99:6.1f} ms (after 10 % warm-up)"
        )


def _vm_hwm_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:  # exited between poll() and open()
        pass
    return 0


def bench_rss(bootstrap: str, dsn: str, entities: int) -> None:
    reset_postgres(dsn)
    prefix = f"rss{uuid.uuid4().hex[:6]}."
    settings = Settings(bootstrap_servers=bootstrap, dlq_topic=prefix + "dlq")
    contract = load_contract(settings)
    ensure_topics(admin_config(settings), [prefix + t for t in contract.catalog.topics()])
    t0 = time.perf_counter()
    for start in range(0, entities, 50_000):
        events = [
            person(citizen_id(i), 1, name=f"n{i}", residence_address="北京市东城区某街道")
            for i in range(start, min(entities, start + 50_000))
        ]
        publish_events(settings, contract, events, topic_prefix=prefix)
    print(f"## peak RSS: published {entities} persons in {time.perf_counter() - t0:.0f} s")
    env = {**os.environ, "GOVBUS_BOOTSTRAP_SERVERS": bootstrap, "GOVBUS_DLQ_TOPIC": prefix + "dlq"}
    t0 = time.perf_counter()
    sync = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from govbus.cli import main; main()",
            "sync",
            "--store",
            dsn,
            "--topic-prefix",
            prefix,
            "--until-idle",
            "--max-idle-seconds",
            "3",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # VmHWM is the peak RSS of the process's own memory since exec. Not ru_maxrss: Linux
    # carries the forked (pre-exec) image of this much bigger benchmark process into it.
    peak_kb = 0
    while sync.poll() is None:
        peak_kb = max(peak_kb, _vm_hwm_kb(sync.pid))
        time.sleep(0.2)
    if sync.returncode != 0:
        raise RuntimeError(f"govbus sync exited with {sync.returncode}")
    elapsed = time.perf_counter() - t0
    peak_mb = peak_kb / 1024
    store = open_store(dsn)
    count = store.count(contract.catalog.resource("BR-PERSON").entity)
    store.close()
    print(
        f"govbus sync: {count} persons in {elapsed:.0f} s ({count / elapsed:.0f} ev/s incl. "
        f"start and 3 s idle), peak RSS {peak_mb:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--entities", type=int, default=50_000)
    parser.add_argument("--rss-entities", type=int, default=1_000_000)
    parser.add_argument("--rates", default="1000,2000,10000")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--skip-kafka", action="store_true")
    parser.add_argument(
        "--rounds", type=int, default=3, help="apply_batch and raw runs per backend, alternating"
    )
    args = parser.parse_args()
    dsn = os.environ.get("BENCH_PG_DSN")
    bench_apply(args.events, args.entities, dsn, args.rounds)
    from bench.sync_keys import bench_dedup, bench_hot_keys  # it imports this module

    bench_hot_keys(args.events, args.entities, dsn, args.rounds)
    bench_dedup(args.events, dsn)
    bootstrap = os.environ.get("GOVBUS_BOOTSTRAP_SERVERS")
    if args.skip_kafka or not bootstrap or not dsn:
        print("(Kafka parts skipped: set GOVBUS_BOOTSTRAP_SERVERS and BENCH_PG_DSN)")
        return
    bench_latency(bootstrap, dsn, [int(r) for r in args.rates.split(",")], args.seconds)
    bench_rss(bootstrap, dsn, args.rss_entities)


if __name__ == "__main__":
    main()
