"""The first slice through the system, on real Kafka: a department publishes with the
Publisher SDK (idempotent producer), the sync applies it to a SQLite store, and the store
reads it back with its provenance. Every package on the one-way path takes part."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from govbus import (
    EntityKind,
    PersonChanged,
    PersonData,
    Settings,
    ensure_catalog_topics,
    load_contract,
)
from govbus.consumers import open_store
from govbus.consumers._sync import SyncOptions, SyncService
from govbus.consumers.testing import citizen_id
from govbus.producers import Publisher
from govbus.testing import KafkaEndpoint

pytestmark = pytest.mark.kafka


def test_a_person_published_by_psb_and_cab_is_merged_in_the_base_store(
    kafka: KafkaEndpoint, tmp_path: Path
) -> None:
    settings = Settings(bootstrap_servers=kafka.bootstrap_servers)
    contract = load_contract(settings)
    ensure_catalog_topics(contract.catalog, settings)
    key = citizen_id(int(uuid.uuid4().int % 10_000_000))

    with Publisher("PSB", settings, contract=contract) as psb:
        first = psb.publish(
            PersonChanged.upsert(
                department="PSB", key=key, sequence=1, data=PersonData(name="王五", sex="1")
            )
        )
        psb.publish(
            PersonChanged.upsert(
                department="PSB",
                key=key,
                sequence=2,
                data=PersonData(residence_address=None, name="王六"),
            )
        )
        # A stale update from the same source must not win over sequence 2.
        psb.publish(
            PersonChanged.upsert(department="PSB", key=key, sequence=1, data=PersonData(name="旧"))
        )
        assert psb.flush(30) == []
    assert first.result(timeout=30).offset >= 0
    with Publisher("CAB", settings, contract=contract) as cab:
        cab.publish(
            PersonChanged.upsert(
                department="CAB", key=key, sequence=7, data=PersonData(marital_status="20")
            )
        )
        assert cab.flush(30) == []

    store = open_store(f"sqlite:///{tmp_path / 'base.db'}")
    options = SyncOptions(group=f"first-slice-{uuid.uuid4().hex[:8]}", max_idle_seconds=3)
    totals = SyncService(settings, contract, store, options).run()
    assert totals.applied_events >= 4

    record = store.record(EntityKind.PERSON, key)
    assert record is not None
    assert record.values["name"] == "王六"
    assert record.values["sex"] == "1"
    assert record.values["marital_status"] == "20"
    sources = {p.field: (p.source_department, p.source_sequence) for p in record.provenance}
    assert sources["name"] == ("PSB", 2)
    assert sources["marital_status"] == ("CAB", 7)
    store.close()
