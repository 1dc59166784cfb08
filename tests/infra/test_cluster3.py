"""Three voters, RF 3, min ISR 2: losing one broker loses neither writes nor reads."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka.admin import AdminClient

from govbus.dev.kafka import ClusterHandle
from govbus.testing import create_topic

from .kafka_io import consume_all, messages, produce

pytestmark = pytest.mark.kafka

PARTITIONS = 3


def test_writes_and_reads_survive_a_broker_crash(kafka_cluster3: ClusterHandle) -> None:
    config = kafka_cluster3.client_config()
    topic = create_topic(config, f"rf3-{uuid.uuid4().hex[:8]}", PARTITIONS, replication_factor=3)
    partitions = AdminClient({**config}).list_topics(topic, timeout=10).topics[topic].partitions
    assert all(len(p.replicas) == 3 for p in partitions.values())

    before = messages("before", 30)
    produce(config, topic, before)
    assert sorted(consume_all(config, topic, PARTITIONS, len(before))) == sorted(before)

    victim = partitions[0].leader  # make sure a partition loses its leader
    victim_pid = kafka_cluster3.pid(victim)
    kafka_cluster3.kill_node(victim)
    try:
        assert victim not in kafka_cluster3.running_pids(), f"pid {victim_pid} still alive"

        after = messages("after", 30)
        produce(config, topic, after)  # acks=all needs 2 in-sync replicas: still there
        received = consume_all(config, topic, PARTITIONS, len(before) + len(after))
        assert sorted(received) == sorted(before + after)
    finally:
        kafka_cluster3.restart_node(victim)
    assert set(kafka_cluster3.running_pids()) == {1, 2, 3}
