"""Decode + validate Kafka records as the sync does, against raw fastavro on the same payloads.

    python -m bench.decode [--records N] [--rounds R] [--profile]

govbus side: the sync's per-record path from a raw Kafka message to a validated event
(`govbus.consumers._sync.to_batch_items`: size limit, CloudEvents headers, wire header, writer
schema, Avro body, trailing bytes, the typed event, identifiers, department and field
authority). Raw side: `fastavro.schemaless_reader` of the same Avro bodies (wire header
skipped) with the same parsed schema, nothing else. Best of R rounds each, interleaved, in
one run. The records are a mix like the sync's: person changes from four departments
(distinct identity numbers), legal entities and certificates.
"""

from __future__ import annotations

import argparse
import io
import random
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import fastavro

from govbus import ChangeEvent, Contract, cloudevent_headers, load_contract, validate_event
from govbus.consumers._batch_items import KafkaPosition, RejectedRecord
from govbus.consumers._decode import RawRecord
from govbus.consumers._sync import SyncOptions, to_batch_items
from govbus.consumers.testing import (
    MARRIAGE,
    certificate,
    citizen_id,
    legal_entity,
    person,
    test_settings,
    uscc,
)


def sample_events(count: int, seed: int = 5) -> list[ChangeEvent[Any]]:
    """70 % persons (the fields each department is the source of), 15 % companies, 15 %
    certificates; every identity number and credit code distinct."""
    rng = random.Random(seed)
    sources = [
        ("PSB", {"name": "张三", "residence_address": "北京市东城区某某街道1号"}),
        ("PSB", {"birth_date": date(1949, 12, 31), "sex": "1"}),
        ("CAB", {"marital_status": "20"}),
        ("EDU", {"education": "21"}),
        ("HRSS", {"phone": "13912345678"}),
    ]
    events: list[ChangeEvent[Any]] = []
    for i in range(count):
        roll = rng.random()
        if roll < 0.7:
            department, fields = rng.choice(sources)
            events.append(person(citizen_id(i), i, department, **fields))
        elif roll < 0.85:
            events.append(legal_entity(uscc(i), i, name=f"公司{i}", status="active"))
        else:
            events.append(
                certificate(
                    MARRIAGE,
                    f"M{i}",
                    i,
                    "CAB",
                    holder_id=citizen_id(i),
                    holder_type="person",
                    valid_to=date(2040, 1, 1),
                )
            )
    return events


def raw_records(contract: Contract, events: list[ChangeEvent[Any]]) -> list[RawRecord]:
    records = []
    for offset, event in enumerate(events):
        resource = validate_event(contract.catalog, event)
        headers = cloudevent_headers(
            event_id=str(event.event_id),
            department=event.source_department,
            entity=str(event.entity),
            occurred_at=event.occurred_at,
            subject=resource.code,
        )
        records.append(
            RawRecord(
                position=KafkaPosition(resource.topic, offset % 6, offset),
                key=contract.record_key(event),
                value=contract.encode(resource, event),
                headers=headers,
            )
        )
    return records


def run_govbus(contract: Contract, records: list[RawRecord]) -> float:
    settings, options = test_settings(), SyncOptions()
    began = time.perf_counter()
    items = to_batch_items(contract, settings, options, records)
    elapsed = time.perf_counter() - began
    rejected = [i for i in items if isinstance(i, RejectedRecord)]
    if rejected:
        raise SystemExit(f"govbus rejected {len(rejected)} records: {rejected[0].reason}")
    return elapsed


def run_raw(bodies: list[tuple[bytes, Any]]) -> float:
    reader = fastavro.schemaless_reader
    began = time.perf_counter()
    for payload, schema in bodies:
        body = io.BytesIO(payload)
        body.seek(5)
        reader(body, schema, schema)
    return time.perf_counter() - began


def best_of(rounds: int, *runs: Callable[[], float]) -> list[float]:
    best = [float("inf")] * len(runs)
    for _ in range(rounds):
        for i, run in enumerate(runs):
            best[i] = min(best[i], run())
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile the govbus side")
    args = parser.parse_args()

    contract = load_contract(test_settings())
    records = raw_records(contract, sample_events(args.records))
    # The raw side reads each body with the schema it was written with (the latest).
    bodies = []
    for raw in records:
        assert raw.value is not None
        resource = contract.catalog.resources_on_topic(raw.position.topic)[0]
        bodies.append((raw.value, contract.latest_schema(resource).parsed))

    if args.profile:
        import cProfile
        import pstats

        run_govbus(contract, records)  # warm the caches first
        profiler = cProfile.Profile()
        profiler.runcall(run_govbus, contract, records)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return

    run_govbus(contract, records[:1000])  # warm the caches both sides would have
    run_raw(bodies[:1000])
    govbus_best, raw_best = best_of(
        args.rounds, lambda: run_govbus(contract, records), lambda: run_raw(bodies)
    )
    govbus_us = govbus_best / args.records * 1e6
    raw_us = raw_best / args.records * 1e6
    print(f"records: {args.records} (best of {args.rounds} rounds)")
    print(
        f"govbus decode + validate: {govbus_us:6.2f} us/record  {1e6 / govbus_us:9,.0f} records/s"
    )
    print(f"raw fastavro reader:      {raw_us:6.2f} us/record  {1e6 / raw_us:9,.0f} records/s")
    print(f"ratio govbus / raw (rate): {raw_best / govbus_best:.2f}x")


if __name__ == "__main__":
    main()
