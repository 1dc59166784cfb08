"""`govbus gateway acls sync` on the secured broker: the catalog's WRITE ACLs per department
(a department writes only where it is an authority), the plan printed, stale ones removed."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from govbus.dev.kafka import ClusterHandle
from govbus.dev.kafka_security import create_scram_user
from govbus.gateway.acls import AclChange, AclPlan, ChangeKind, KafkaAcl, apply_plan, read_acls
from tests.cli.helpers import clean_environ, run_govbus

from .conftest import ensure_topic

pytestmark = pytest.mark.kafka

PERSON, LEGAL = "govbus.base.person", "govbus.base.legal-entity"


def produce_as(handle: ClusterHandle, user: str, password: str, topic: str) -> str | None:
    """Produce one record as `user`; None on success, else the error name."""
    producer = Producer(
        {
            "bootstrap.servers": handle.bootstrap_servers,
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": user,
            "sasl.password": password,
            "enable.idempotence": True,
            "acks": "all",
            "message.timeout.ms": 5000,
            "log_level": 0,
        }
    )
    outcome: list[str | None] = []
    producer.produce(topic, b"x", on_delivery=lambda err, _m: outcome.append(err and err.name()))
    producer.flush(10)
    return outcome[0] if outcome else "NO_REPORT"


def test_sync_lets_a_department_write_only_its_own_topics(kafka_secure: ClusterHandle) -> None:
    admin_conf = kafka_secure.client_config()
    for topic in (PERSON, LEGAL):
        ensure_topic(kafka_secure, topic)
    create_scram_user(admin_conf, "psb", "psb-secret")
    stale = KafkaAcl("User:psb", "WRITE", "TOPIC", LEGAL)  # psb is no authority on it
    admin = AdminClient({**admin_conf})
    apply_plan(admin, AclPlan(add=(AclChange(ChangeKind.ADDED, stale, "by hand"),)))
    assert stale in read_acls(admin)

    env = clean_environ(
        GOVBUS_BOOTSTRAP_SERVERS=kafka_secure.bootstrap_servers,
        GOVBUS_SECURITY_PROTOCOL="SASL_PLAINTEXT",
        GOVBUS_SASL_USERNAME=admin_conf["sasl.username"],
        GOVBUS_SASL_PASSWORD=admin_conf["sasl.password"],
    )
    dry = run_govbus("gateway", "acls", "sync", "--dry-run", env=env)
    assert dry.code == 0, dry.stderr
    own = KafkaAcl("User:psb", "WRITE", "TOPIC", PERSON)
    assert f"would add: {own} (catalog: PSB publishes)" in dry.stdout.splitlines()
    assert f"would remove: {stale} (not wanted)" in dry.stdout.splitlines()
    assert stale in read_acls(admin)  # a dry run changes nothing

    ran = run_govbus("gateway", "acls", "sync", env=env)
    assert ran.code == 0, ran.stderr
    assert ran.stdout == dry.stdout.replace("would ", "")
    again = run_govbus("gateway", "acls", "sync", "--dry-run", env=env)
    assert again.stdout == "ACLs already match the catalog and the grants\n"  # idempotent

    deadline = time.monotonic() + 30
    while True:  # ACL changes reach the broker shortly after they commit
        mine = produce_as(kafka_secure, "psb", "psb-secret", PERSON)
        other = produce_as(kafka_secure, "psb", "psb-secret", LEGAL)
        if (mine, other) == (None, "TOPIC_AUTHORIZATION_FAILED") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert mine is None
    assert other == "TOPIC_AUTHORIZATION_FAILED"
