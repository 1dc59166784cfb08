"""`govbus admin acls sync` on the secured broker: the catalog's WRITE ACLs for the SASL user
of a department's principal (created by `govbus admin principals create`): it writes only
where its department is an authority; the plan is printed and stale ACLs removed."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from govbus.dev.kafka import ClusterHandle
from govbus.gateway._db import open_database
from govbus.gateway.acls import AclChange, AclPlan, ChangeKind, KafkaAcl, apply_plan, read_acls
from govbus.gateway.audit import AuditStore
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


def test_sync_lets_a_department_write_only_its_own_topics(
    kafka_secure: ClusterHandle, tmp_path: Path
) -> None:
    admin_conf = kafka_secure.client_config()
    for topic in (PERSON, LEGAL):
        ensure_topic(kafka_secure, topic)
    env = clean_environ(
        GOVBUS_BOOTSTRAP_SERVERS=kafka_secure.bootstrap_servers,
        GOVBUS_SECURITY_PROTOCOL="SASL_PLAINTEXT",
        GOVBUS_SASL_USERNAME=admin_conf["sasl.username"],
        GOVBUS_SASL_PASSWORD=admin_conf["sasl.password"],
        GOVBUS_GATEWAY_DB=f"sqlite:///{tmp_path / 'gateway.db'}",
        GOVBUS_GATEWAY_TOKEN_KEY_FILE=str(tmp_path / "token.key"),
    )
    user = f"psb-{uuid.uuid4().hex[:6]}"
    made = run_govbus(
        "admin", "principals", "create", user, "--role", "provider", "--department", "PSB", env=env
    )
    assert made.code == 0, made.stderr
    password = made.stdout.strip()  # its SCRAM password, shown once
    stale = KafkaAcl(f"User:{user}", "WRITE", "TOPIC", LEGAL)  # PSB is no authority on it
    admin = AdminClient({**admin_conf})
    apply_plan(admin, AclPlan(add=(AclChange(ChangeKind.ADDED, stale, "by hand"),)))
    assert stale in read_acls(admin)

    dry = run_govbus("admin", "acls", "sync", "--dry-run", env=env)
    assert dry.code == 0, dry.stderr
    own = KafkaAcl(f"User:{user}", "WRITE", "TOPIC", PERSON)
    assert f"would add: {own} (catalog: PSB publishes)" in dry.stdout.splitlines()
    assert f"would remove: {stale} (not wanted)" in dry.stdout.splitlines()
    assert stale in read_acls(admin)  # a dry run changes nothing

    ran = run_govbus("admin", "acls", "sync", env=env)
    assert ran.code == 0, ran.stderr
    assert ran.stdout == dry.stdout.replace("would ", "")
    # Each change is in the gateway's chained audit log, and the chain verifies.
    chain = AuditStore(open_database(f"sqlite:///{tmp_path / 'gateway.db'}"))
    audited = {(e.actor, e.action, e.target) for e in chain.all_entries()}
    assert ("cli", "acl.added", str(own)) in audited
    assert ("cli", "acl.removed", str(stale)) in audited
    verified = run_govbus("audit", "verify", env=env)
    assert verified.code == 0, verified.stdout + verified.stderr
    again = run_govbus("admin", "acls", "sync", "--dry-run", env=env)
    assert again.stdout == "ACLs already match the catalog and the grants\n"  # idempotent

    deadline = time.monotonic() + 30
    while True:  # ACL changes reach the broker shortly after they commit
        mine = produce_as(kafka_secure, user, password, PERSON)
        other = produce_as(kafka_secure, user, password, LEGAL)
        if (mine, other) == (None, "TOPIC_AUTHORIZATION_FAILED") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert mine is None
    assert other == "TOPIC_AUTHORIZATION_FAILED"
