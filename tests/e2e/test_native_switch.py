"""One switch, every path: `Settings(native=False)` keeps every role off the native module
(publish, publish_many, the relay, file ingestion, the sync's row builder and COPY), and
`Settings(native=True)` uses it on each of them.

The native module's entry points are replaced by spies: switched off, any call fails the
test; switched on, each must be called. The contract is one loaded with the native paths
on, shared by every role, as the gateway shares one: the roles' own settings decide.
The publishers produce in memory; their records then go, byte for byte, to prefixed
topics on the real broker, which the sync applies to a real PostgreSQL store.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from govbus import (
    EntityKind,
    Settings,
    admin_config,
    ensure_topics,
    load_contract,
    producer_config,
)
from govbus._native import native_built, native_module
from govbus.consumers import open_store
from govbus.consumers._sync import SyncOptions, SyncService
from govbus.consumers.testing import BUSINESS_LICENCE, certificate, citizen_id, person, uscc
from govbus.producers import Publisher, create_outbox_table, write_outbox_event
from govbus.producers._file_ingest import ingest_file
from govbus.producers._outbox_store import SqliteOutbox
from govbus.producers._relay import run_relay
from govbus.producers.testing import InMemoryProducer
from govbus.testing import KafkaEndpoint

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

# Every entry point of `native/src/lib.rs`.
ENTRY_POINTS = (
    "AvroEncoder",
    "Pseudonymizer",
    "RecordMaker",
    "FastPath",
    "BatchTracker",
    "scan_batch",
    "copy_rows",
)


def spy_on_native(monkeypatch: pytest.MonkeyPatch, *, allowed: bool) -> set[str]:
    """Replace the entry points; returns the names called (allowed) or fails on any call."""
    module = native_module()
    assert module is not None
    called: set[str] = set()
    for name in ENTRY_POINTS:
        real = getattr(module, name)

        def spy(*args: Any, _name: str = name, _real: Callable[..., Any] = real) -> Any:
            if not allowed:
                raise AssertionError(f"native {_name} called with Settings(native=False)")
            called.add(_name)
            return _real(*args)

        monkeypatch.setattr(module, name, spy)
    return called


def publish_by_every_way(settings: Settings, tmp_path: Path, base: int) -> list[Any]:
    """Persons and a certificate by publish, publish_many, the relay and a file; returns the
    records produced (in memory)."""
    contract = load_contract(Settings(native=True))  # shared; each role's settings decide
    producer = InMemoryProducer()
    keys = [citizen_id(base + n) for n in range(40)]
    with Publisher("PSB", settings, contract=contract, producer=producer) as psb:
        psb.publish(person(keys[0], 1, name="甲"))
        batch = psb.publish_many([person(k, 1, name=f"乙{n}") for n, k in enumerate(keys[1:30])])
        assert batch.result(10).ok
        outbox = tmp_path / "outbox.db"
        conn = sqlite3.connect(outbox)
        create_outbox_table(conn)
        for n, key in enumerate(keys[30:35]):
            write_outbox_event(conn, person(key, 1, name=f"丙{n}"))
        conn.commit()
        conn.close()
        stats = run_relay(SqliteOutbox(str(outbox)), psb, until_empty=True)
        assert stats.sent == 5
        lines = tmp_path / "persons.jsonl"
        lines.write_text(
            "".join(
                json.dumps({"entity_key": k, "source_sequence": 1, "name": f"丁{n}"}) + "\n"
                for n, k in enumerate(keys[35:])
            ),
            encoding="utf-8",
        )
        resource = contract.catalog.resource("BR-PERSON")
        summary = ingest_file(lines, psb, resource, tmp_path / "rejects.jsonl")
        assert (summary.published, summary.rejected) == (5, 0)
    with Publisher("AMR", settings, contract=contract, producer=producer) as amr:
        amr.publish(
            certificate(
                BUSINESS_LICENCE,
                f"N{base}",
                1,
                "AMR",
                holder_id=uscc(base),
                holder_type="legal_entity",
                status="valid",
            )
        )
    assert len(producer.log) == 41
    return producer.log


def sync_records(settings: Settings, records: list[Any], prefix: str, dsn: str) -> Any:
    contract = load_contract(Settings(native=True))
    topics = [prefix + t for t in contract.catalog.topics()]
    ensure_topics(admin_config(settings), [*topics, settings.dlq_topic])
    raw = Producer(producer_config(settings))
    for r in records:
        raw.produce(prefix + r.topic_name, value=r.value, key=r.key, headers=r.header_pairs)
    assert raw.flush(30) == 0
    store = open_store(dsn)
    options = SyncOptions(
        group=f"g{uuid.uuid4().hex[:8]}", topic_prefix=prefix, max_idle_seconds=1.5
    )
    totals = SyncService(settings, contract, store, options).run()
    return store, totals


@pytest.mark.parametrize("native", [False, True], ids=["switched-off", "switched-on"])
def test_the_native_setting_reaches_every_path(
    kafka: KafkaEndpoint,
    pg_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    native: bool,
) -> None:
    if native and not native_built():
        pytest.skip("the native module is not built")
    from govbus.consumers import _postgres_store

    monkeypatch.setattr(_postgres_store, "_COPY_FROM", 1)  # every merge round by COPY
    prefix = f"t{uuid.uuid4().hex[:10]}."
    settings = Settings(
        bootstrap_servers=kafka.bootstrap_servers, dlq_topic=f"{prefix}dlq", native=native
    )
    base = uuid.uuid4().int % 300_000
    called = spy_on_native(monkeypatch, allowed=native)

    records = publish_by_every_way(settings, tmp_path, base)
    store, totals = sync_records(settings, records, prefix, pg_database)
    try:
        assert (totals.applied_events, totals.quarantined) == (41, 0)
        assert store.count(EntityKind.PERSON) == 40
        stored = store.record(EntityKind.PERSON, citizen_id(base))
        assert stored is not None and stored.values["name"] == "甲"
    finally:
        store.close()
    assert called == (set(ENTRY_POINTS) if native else set())
