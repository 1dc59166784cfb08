"""Grants enforced on the secured broker (SASL/SCRAM, StandardAuthorizer), seen by the
department's own confluent-kafka consumer: denied before approval, reading after, denied
again within 5 s of revocation or expiry. The reconciler runs its loop as in the gateway."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka.admin import AdminClient

from govbus import Catalog, Settings, grant_disclosure, load_contract
from govbus.dev.kafka import ClusterHandle
from govbus.gateway.acls import AclReconciler, KafkaAcl, read_acls
from govbus.gateway.audit import MemoryAuditLog

from .conftest import Bank, GrantBook, ensure_topic
from .grants import FakeGrant, every_field, with_unmasked_legal_entity
from .kafka_reader import (
    denied,
    department_reader,
    produce_as_admin,
    read_all,
)

pytestmark = pytest.mark.kafka

ENFORCED_WITHIN = 5.0  # seconds, from revocation or expiry to the first denied fetch


@pytest.fixture
def book() -> GrantBook:
    return GrantBook()


@pytest.fixture
def audit() -> MemoryAuditLog:
    return MemoryAuditLog()


@contextmanager
def running_reconciler(
    cluster: ClusterHandle, catalog: Catalog, book: GrantBook, audit: MemoryAuditLog, bank: Bank
) -> Iterator[AclReconciler]:
    reconciler = AclReconciler(cluster.client_config(), catalog, book, audit, bank.scope)
    reconciler.reconcile()  # the department's standing ACLs (its groups) are in place
    reconciler.start(interval=1.0)
    try:
        yield reconciler
    finally:
        reconciler.stop()


def values(label: str, count: int = 3) -> list[str]:
    run = uuid.uuid4().hex[:6]
    return [f"{label}-{run}-{i}" for i in range(count)]


def test_a_partial_grant_reads_its_view_topic_only_until_revoked(
    kafka_secure: ClusterHandle, bank: Bank, book: GrantBook, audit: MemoryAuditLog
) -> None:
    catalog = load_contract(Settings()).catalog
    grant = FakeGrant("BR-PERSON", ("name", "sex"), id=f"g-{uuid.uuid4().hex[:6]}")
    view = grant_disclosure(catalog.resource("BR-PERSON"), grant.fields).view_topic
    # The projector (next issue) creates and fills the view; here the test plays its part.
    ensure_topic(kafka_secure, view)
    ensure_topic(kafka_secure, "govbus.base.person")
    in_view, in_base = values("view"), values("base")
    produce_as_admin(kafka_secure, view, in_view)
    produce_as_admin(kafka_secure, "govbus.base.person", in_base)

    with (
        running_reconciler(kafka_secure, catalog, book, audit, bank) as reconciler,
        department_reader(kafka_secure, bank.user, view, bank.group) as reader,
        department_reader(kafka_secure, bank.user, "govbus.base.person", bank.group) as raw,
    ):
        assert reader.poll_until(denied, 20), (reader.reading, audit.records)  # before approval
        assert reader.reading.values == []

        book.grants.append(grant)  # approved
        reconciler.wake()
        assert reader.poll_until(read_all(in_view), 20), reader.reading
        # A partial grant never reads the raw base topic: polled for 5 s, nothing comes.
        assert not raw.poll_until(read_all(in_base), 5), raw.reading
        assert raw.reading.values == [] and denied(raw.reading), raw.reading

        book.grants.remove(grant)  # revoked
        reconciler.wake()
        revoked_at = time.monotonic()
        reader.reading.forget_errors()
        assert reader.poll_until(denied, ENFORCED_WITHIN), reader.reading
        print(f"denied {time.monotonic() - revoked_at:.2f} s after revocation")
        late = values("late", 1)  # written once the denial is seen: never read
        produce_as_admin(kafka_secure, view, late)
        reader.poll_until(read_all(late), 3)
        assert late[0] not in reader.reading.values

    person = [r for r in audit.records if r.resource == "BR-PERSON"]
    changes = [(r.action, r.target) for r in person]
    assert sorted(changes) == sorted(
        (action, str(KafkaAcl(bank.principal, op, kind, name, pattern)))
        for action in ("acl.added", "acl.removed")
        for op, kind, name, pattern in (
            ("READ", "TOPIC", view, "LITERAL"),
            ("DESCRIBE", "TOPIC", view, "LITERAL"),
        )
    ), changes
    assert all(r.actor == "system" and grant.id in (r.reason or "") for r in person)


def test_a_whole_grant_reads_the_raw_topic_until_it_expires(
    kafka_secure: ClusterHandle, bank: Bank, book: GrantBook, audit: MemoryAuditLog
) -> None:
    catalog = with_unmasked_legal_entity(load_contract(Settings()).catalog)
    topic = ensure_topic(kafka_secure, "govbus.base.legal-entity")
    records = values("legal")
    produce_as_admin(kafka_secure, topic, records)

    with (
        running_reconciler(kafka_secure, catalog, book, audit, bank) as reconciler,
        department_reader(kafka_secure, bank.user, topic, bank.group) as reader,
    ):
        assert reader.poll_until(denied, 20), reader.reading  # before approval

        now = datetime.now(UTC)
        expires_at = now + timedelta(seconds=8)
        grant = FakeGrant(
            "BR-LEGAL-ENTITY",
            every_field(catalog, "BR-LEGAL-ENTITY"),
            approved_at=now,
            expires_at=expires_at,
        )
        book.grants.append(grant)
        reconciler.wake()
        assert reader.poll_until(read_all(records), 8), reader.reading
        acls = read_acls(AdminClient({**kafka_secure.client_config()}))
        assert KafkaAcl(bank.principal, "READ", "TOPIC", topic) in acls

        # Nobody calls wake(): the loop notices the expiry by itself.
        time.sleep(max(0.0, (expires_at - datetime.now(UTC)).total_seconds()))
        reader.reading.forget_errors()
        assert reader.poll_until(denied, ENFORCED_WITHIN), reader.reading
        lag = (datetime.now(UTC) - expires_at).total_seconds()
        print(f"denied {lag:.2f} s after expiry")
        assert lag < ENFORCED_WITHIN

    removed = {r.target for r in audit.records if r.action == "acl.removed"}
    assert str(KafkaAcl(bank.principal, "READ", "TOPIC", topic)) in removed
