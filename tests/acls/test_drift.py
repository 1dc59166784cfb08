"""Drift on the secured broker: what someone changes by hand on managed ACLs is undone and
audited as `acl.drift_repaired`; ACLs govbus does not manage are left alone."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka.admin import AdminClient

from govbus import Settings, grant_disclosure, load_contract
from govbus.dev.kafka import ClusterHandle
from govbus.gateway.acls import (
    AclChange,
    AclPlan,
    AclReconciler,
    ChangeKind,
    KafkaAcl,
    apply_plan,
    read_acls,
)
from govbus.gateway.audit import MemoryAuditLog

from .conftest import Bank, GrantBook
from .grants import FakeGrant

pytestmark = pytest.mark.kafka


def by_hand(admin: AdminClient, add: list[KafkaAcl], remove: list[KafkaAcl]) -> None:
    """An operator's change, straight on the broker, then waits until the broker lists it."""
    plan = AclPlan(
        tuple(AclChange(ChangeKind.ADDED, a, "by hand") for a in add),
        tuple(AclChange(ChangeKind.REMOVED, a, "by hand") for a in remove),
    )
    assert [error for _, error in apply_plan(admin, plan)] == [None] * len(plan.changes)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        listed = read_acls(admin)
        if set(add) <= listed and not set(remove) & listed:
            return
        time.sleep(0.1)
    raise AssertionError("the broker never listed the hand-made change")


def test_a_hand_made_acl_is_removed_and_a_deleted_one_restored_both_audited(
    kafka_secure: ClusterHandle, bank: Bank
) -> None:
    catalog = load_contract(Settings()).catalog
    grant = FakeGrant("BR-PERSON", ("name",), id=f"g-{uuid.uuid4().hex[:6]}")
    view = grant_disclosure(catalog.resource("BR-PERSON"), grant.fields).view_topic
    audit = MemoryAuditLog()
    reconciler = AclReconciler(
        kafka_secure.client_config(), catalog, GrantBook([grant]), audit, bank.scope
    )
    first = reconciler.reconcile()
    granted = KafkaAcl(bank.principal, "READ", "TOPIC", view)
    assert granted in {c.acl for c in first.add}
    assert reconciler.plan().empty  # in step with the broker

    admin = AdminClient({**kafka_secure.client_config()})
    raw = KafkaAcl(bank.principal, "READ", "TOPIC", "govbus.base.person")  # never granted
    everything = KafkaAcl(bank.principal, "READ", "TOPIC", "gov", "PREFIXED")  # reaches govbus.*
    everyone = KafkaAcl("User:*", "READ", "TOPIC", "govbus.base.legal-entity")
    foreign = KafkaAcl(bank.principal, "READ", "TOPIC", f"their-own-{uuid.uuid4().hex[:6]}")
    by_hand(admin, add=[raw, everything, everyone, foreign], remove=[granted])

    before = len(audit.records)
    repaired = reconciler.reconcile()
    assert {(c.kind, c.acl, c.drift) for c in repaired.changes} == {
        (ChangeKind.ADDED, granted, True),
        (ChangeKind.REMOVED, raw, True),
        (ChangeKind.REMOVED, everything, True),
        (ChangeKind.REMOVED, everyone, True),
    }
    listed = read_acls(admin)
    assert granted in listed and not {raw, everything, everyone} & listed
    assert foreign in listed  # not a govbus name: not govbus's to remove

    records = audit.records[before:]
    assert sorted((r.action, r.target, r.reason) for r in records) == sorted(
        [
            ("acl.drift_repaired", str(granted), f"added: grant {grant.id}"),
            *(
                ("acl.drift_repaired", str(acl), "removed: not wanted: added by hand")
                for acl in (raw, everything, everyone)
            ),
        ]
    )
    assert reconciler.plan().empty
