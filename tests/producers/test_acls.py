"""ACLs from the catalog: derivation (unit) and enforcement on the secured broker."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from govbus import Contract
from govbus.dev.kafka import ClusterHandle
from govbus.dev.kafka_security import create_scram_user
from govbus.producers._acls import TopicAcl, desired_acls, plan_acls, sync_acls
from govbus.testing import create_topic

PERSON, LEGAL, CERT = "govbus.base.person", "govbus.base.legal-entity", "govbus.base.certificate"


def test_departments_may_write_only_topics_they_are_an_authority_on(contract: Contract) -> None:
    acls = desired_acls(contract.catalog)
    writes = {(a.principal, a.topic) for a in acls if a.operation == "WRITE"}
    assert ("User:psb", PERSON) in writes
    assert ("User:psb", LEGAL) not in writes
    assert ("User:tax", LEGAL) in writes  # tax_credit_rating
    assert ("User:amr", CERT) in writes and ("User:amr", PERSON) not in writes
    assert not any(p == "User:bank01" for p, _ in writes)


def test_plan_removes_only_stale_managed_acls() -> None:
    desired = {TopicAcl("User:psb", PERSON, "WRITE")}
    current = {
        TopicAcl("User:psb", LEGAL, "WRITE"),  # stale, managed
        TopicAcl("User:psb", LEGAL, "DESCRIBE"),  # DESCRIBE is never removed
        TopicAcl("User:someone", LEGAL, "WRITE"),  # not a department principal
    }
    plan = plan_acls(desired, current, {"User:psb"})
    assert plan.create == (TopicAcl("User:psb", PERSON, "WRITE"),)
    assert plan.delete == (TopicAcl("User:psb", LEGAL, "WRITE"),)


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


@pytest.mark.kafka
def test_department_a_cannot_write_to_department_b_topic(
    kafka_secure: ClusterHandle, contract: Contract
) -> None:
    admin_conf = kafka_secure.client_config()
    for topic in (PERSON, LEGAL):
        if topic not in AdminClient(admin_conf).list_topics(timeout=10).topics:
            create_topic(admin_conf, topic)
    create_scram_user(admin_conf, "psb", "psb-secret")
    stale = TopicAcl("User:psb", LEGAL, "WRITE")
    admin = AdminClient(admin_conf)  # kept alive until the futures resolve
    for future in admin.create_acls([stale.binding()]).values():
        future.result(10)

    dry = sync_acls(admin_conf, contract.catalog, dry_run=True)
    assert TopicAcl("User:psb", PERSON, "WRITE") in dry.create
    assert stale in dry.delete
    plan = sync_acls(admin_conf, contract.catalog)
    assert plan == dry
    assert sync_acls(admin_conf, contract.catalog, dry_run=True).empty  # idempotent

    deadline = time.monotonic() + 30
    while True:  # ACL changes reach the broker shortly after they commit
        own = produce_as(kafka_secure, "psb", "psb-secret", PERSON)
        other = produce_as(kafka_secure, "psb", "psb-secret", LEGAL)
        if (own, other) == (None, "TOPIC_AUTHORIZATION_FAILED") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert own is None
    assert other == "TOPIC_AUTHORIZATION_FAILED"
