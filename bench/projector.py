"""Projector benchmark: `python -m bench.projector [--events N] [--rounds N]`.

One base topic of person events (6 partitions; two in three change a field of the view),
one partial view (name masked, marital status shown, the key masked). Same data, same run:

- raw: a confluent-kafka loop, consume → decode → filter and mask → encode → produce,
  without transactions (at least once), then with them (consume, produce, send offsets,
  commit per batch), written inline with nothing of govbus but the schema;
- projector: the projector's view worker (`consumers/_view_worker.py`), exactly once.

Each loop reads the whole topic in a consumer group of its own; its rate is counted from
the end of its first batch to its last (group joins are not the loop's speed). Best of
`--rounds`, alternating. Needs GOVBUS_BOOTSTRAP_SERVERS (`govbus dev kafka up --name bench`).
The view schema gets a fixed id (no registry): nothing reads the view back here.
"""

from __future__ import annotations

import argparse
import io
import threading
import time
import uuid
from typing import Any

import fastavro
from confluent_kafka import Consumer, Producer, TopicPartition

from govbus import (
    Settings,
    admin_config,
    consumer_config,
    ensure_topics,
    grant_disclosure,
    load_contract,
    producer_config,
)
from govbus.consumers._view_projection import make_view
from govbus.consumers._view_worker import ViewWorker, WorkerOptions
from govbus.consumers.testing import citizen_id, person, publish_events

BATCH = 2000
VIEW_SCHEMA_ID = 10_000
FIELDS = ("name", "marital_status")


class Clock:
    """Counts records per committed batch; the rate runs from the first batch's end."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.seen = 0
        self.first: tuple[float, int] | None = None
        self.last = 0.0
        self.done = threading.Event()

    def batch(self, count: int) -> None:
        self.seen += count
        now = time.perf_counter()
        if self.first is None:
            self.first = (now, self.seen)
        self.last = now
        if self.seen >= self.total:
            self.done.set()

    @property
    def rate(self) -> float:
        assert self.first is not None and self.last > self.first[0]
        return (self.seen - self.first[1]) / (self.last - self.first[0])


def raw_loop(settings: Settings, base: str, view: Any, total: int, transactional: bool) -> float:
    """The baseline: the same projection written straight on confluent-kafka and fastavro."""
    base_parsed = fastavro.parse_schema(view.base_schema)
    view_parsed = fastavro.parse_schema(view.schema)
    key_mask = view.policy.disclosure(view.resource.key.name)
    masks = {n: view.policy.disclosure(n) for n in FIELDS}
    data_name = f"{view.schema['namespace']}.PersonData"
    header = b"\x00" + VIEW_SCHEMA_ID.to_bytes(4, "big")
    group = f"raw-{uuid.uuid4().hex[:8]}"
    consumer = Consumer(consumer_config(settings, group, **{"fetch.wait.max.ms": 10}))
    extra: dict[str, Any] = {"linger.ms": 2}
    if transactional:
        extra |= {"transactional.id": group, "transaction.timeout.ms": 15_000}
    producer = Producer(producer_config(settings, **extra))
    if transactional:
        producer.init_transactions(30)
    consumer.subscribe([base])
    clock = Clock(total)
    while not clock.done.is_set():
        messages = consumer.consume(BATCH, 0.2)
        if not messages:
            continue
        if transactional:
            producer.begin_transaction()
        offsets: dict[tuple[str, int], int] = {}
        for m in messages:
            offsets[(m.topic(), m.partition())] = m.offset() + 1
            body = io.BytesIO(m.value())
            body.seek(5)
            record = fastavro.schemaless_reader(body, base_parsed, base_parsed)
            changed = [f for f in record["changed_fields"] if f in masks]
            if not changed and record["operation"] != "DELETE":
                continue
            data = record["data"]
            out = {
                **record,
                "entity_key": key_mask.apply(record["entity_key"]),
                "changed_fields": changed,
                "data": None
                if data is None
                else (
                    data_name,
                    {n: d.apply(data[n]) if data[n] else None for n, d in masks.items()},
                ),
            }
            buffer = io.BytesIO()
            buffer.write(header)
            fastavro.schemaless_writer(buffer, view_parsed, out)
            producer.produce(
                view.topic + ".raw",
                key=m.key(),
                value=buffer.getvalue(),
                headers=m.headers(),
                partition=m.partition(),
            )
        if transactional:
            tps = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
            producer.send_offsets_to_transaction(tps, consumer.consumer_group_metadata(), 30)
            producer.commit_transaction(60)
        else:
            producer.poll(0)
        clock.batch(len(messages))
    producer.flush(30)
    consumer.close()
    return clock.rate


def projector_loop(settings: Settings, contract: Any, view: Any, total: int) -> float:
    clock = Clock(total)
    worker = ViewWorker(
        settings,
        view,
        contract.resolver,
        VIEW_SCHEMA_ID,
        WorkerOptions(group_prefix=f"bench-{uuid.uuid4().hex[:8]}.", batch_max_records=BATCH),
        on_commit=clock.batch,
    )
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    clock.done.wait()
    worker.stop()
    thread.join(60)
    return clock.rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--entities", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    settings = Settings()
    contract = load_contract(settings)
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    resource = contract.catalog.resource("BR-PERSON")
    view = make_view(
        grant_disclosure(resource, FIELDS), contract.latest_schema(resource).definition, prefix
    )
    ensure_topics(admin_config(settings), [view.base_topic, view.topic, view.topic + ".raw"])
    keys = [citizen_id(i) for i in range(args.entities)]
    columns = ("name", "marital_status", "education")  # education: not in the view
    events = [
        person(keys[i % args.entities], i // args.entities + 1, **{columns[i % 3]: f"v{i}值"})
        for i in range(args.events)
    ]
    started = time.perf_counter()
    for i in range(0, len(events), 20_000):
        publish_events(settings, contract, events[i : i + 20_000], topic_prefix=prefix)
    print(f"published {len(events)} events in {time.perf_counter() - started:.1f} s")
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        runs = {
            "raw, no transactions": lambda: raw_loop(
                settings, view.base_topic, view, len(events), False
            ),
            "raw, transactions": lambda: raw_loop(
                settings, view.base_topic, view, len(events), True
            ),
            "projector": lambda: projector_loop(settings, contract, view, len(events)),
        }
        for name, run in runs.items():
            rate = run()
            print(f"  {name}: {rate:,.0f} records/s")
            best[name] = max(best.get(name, 0.0), rate)
    ours = best["projector"]
    for name in ("raw, no transactions", "raw, transactions"):
        ratio = ours / best[name]
        print(f"projector / {name}: {ratio:.2f}x ({ours:,.0f} vs {best[name]:,.0f} records/s)")


if __name__ == "__main__":
    main()
