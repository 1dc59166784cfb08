"""Fault test: a broker of the 3-node cluster dies while departments publish and the sync
applies. Nothing is lost or applied twice: the store ends equal to the independent
reference model in `govbus.consumers.testing`, which applies the documented rules with plain dicts.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient

from govbus import ChangeEvent, EntityKind, Settings, ensure_catalog_topics, load_contract
from govbus.consumers import open_store
from govbus.consumers._sync import SyncOptions, SyncService
from govbus.consumers.testing import ReferenceModel, citizen_id, person, publish_events, store_state
from govbus.dev.kafka import ClusterHandle

pytestmark = pytest.mark.kafka


def workload(rng: random.Random, events: int, keys: int) -> list[ChangeEvent[Any]]:
    """Persons changed by PSB and CAB, with stale sequences and exact redeliveries mixed in."""
    ids = [citizen_id(rng.randrange(300_000)) for _ in range(keys)]
    sequences: dict[tuple[str, str], int] = {}
    out: list[ChangeEvent[Any]] = []
    while len(out) < events:
        key = rng.choice(ids)
        if out and rng.random() < 0.05:
            out.append(rng.choice(out))  # a retry: same event id, same sequence
            continue
        department = rng.choice(("PSB", "PSB", "CAB"))
        latest = sequences.get((department, key), 0)
        sequence = latest + 1 if rng.random() > 0.1 else max(0, latest - 1)  # some stale
        sequences[(department, key)] = max(latest, sequence)
        if department == "PSB":
            event = person(key, sequence, "PSB", residence_address=f"addr-{len(out)}")
        else:
            event = person(key, sequence, "CAB", marital_status=rng.choice(("10", "20", "30")))
        out.append(event)
    return out


def leader_of_partition_zero(config: dict[str, str], topic: str) -> int:
    metadata = AdminClient({**config}).list_topics(topic, timeout=10)
    return int(metadata.topics[topic].partitions[0].leader)


def run_failover(cluster: ClusterHandle, tmp_path: Path, events: int, kills: int) -> None:
    prefix = f"fo{uuid.uuid4().hex[:8]}."
    settings = Settings(bootstrap_servers=cluster.bootstrap_servers, dlq_topic=prefix + "dlq")
    contract = load_contract(settings)
    ensure_catalog_topics(
        contract.catalog, settings, prefix=prefix, partitions=3, replication_factor=3
    )
    rng = random.Random(events * 31 + kills)
    stream = workload(rng, events, keys=max(20, events // 10))
    model = ReferenceModel(contract.catalog)
    for event in stream:
        model.apply(event)

    url = f"sqlite:///{tmp_path / 'base.db'}"
    options = SyncOptions(group=prefix + "sync", topic_prefix=prefix, session_timeout_ms=6000)
    syncs: list[SyncService] = []
    crashes: list[BaseException] = []

    def run_sync() -> None:
        # The store's SQLite connection belongs to the thread that uses it.
        syncs.append(SyncService(settings, contract, open_store(url), options))
        try:
            syncs[0].run()
        except BaseException as exc:
            crashes.append(exc)
            raise

    worker = threading.Thread(target=run_sync, daemon=True)
    worker.start()
    chunks = [stream[i : i + 200] for i in range(0, len(stream), 200)]
    kill_at = {len(chunks) * (k + 1) // (kills + 1) for k in range(kills)}
    try:
        for number, chunk in enumerate(chunks):
            if number in kill_at:
                victim = leader_of_partition_zero(
                    cluster.client_config(), prefix + "govbus.base.person"
                )
                cluster.kill_node(victim)
                publish_events(settings, contract, chunk, topic_prefix=prefix)
                cluster.restart_node(victim)
            else:
                publish_events(settings, contract, chunk, topic_prefix=prefix)
        expected = model.expected(EntityKind.PERSON)
        reader = open_store(url)
        deadline = time.monotonic() + 90
        while store_state(reader, EntityKind.PERSON) != expected and time.monotonic() < deadline:
            assert not crashes, f"the sync crashed: {crashes[0]!r}"
            time.sleep(0.5)
        assert store_state(reader, EntityKind.PERSON) == expected
        assert reader.processed_count() == len({e.event_id for e in stream})
        reader.close()
    finally:
        for sync in syncs:
            sync.stop()
        worker.join(timeout=30)
    assert not crashes


def test_a_broker_dies_mid_stream_and_the_store_still_equals_the_model(
    kafka_cluster3: ClusterHandle, tmp_path: Path
) -> None:
    run_failover(kafka_cluster3, tmp_path, events=2_000, kills=1)


@pytest.mark.slow
def test_soak_two_broker_deaths_over_twenty_thousand_events(
    kafka_cluster3: ClusterHandle, tmp_path: Path
) -> None:
    run_failover(kafka_cluster3, tmp_path, events=20_000, kills=2)
