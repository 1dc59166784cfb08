"""The ACL planner as tables: which grant becomes which ACLs, and which changes a plan makes."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from govbus import Catalog, Settings, grant_disclosure, load_contract
from govbus.gateway.acls import (
    AclScope,
    ChangeKind,
    KafkaAcl,
    Purpose,
    is_managed,
    managed_principals,
    plan_acls,
    wanted_acls,
)

from .grants import T0, FakeGrant, every_field, granted, with_unmasked_legal_entity

PERSON, LEGAL, CERT = "govbus.base.person", "govbus.base.legal-entity", "govbus.base.certificate"
BANK = "User:bank01"
GROUP = KafkaAcl(BANK, "READ", "GROUP", "govbus.bank01.", "PREFIXED")
NOW = T0 + timedelta(hours=1)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return with_unmasked_legal_entity(load_contract(Settings()).catalog)


def granted_acls(
    catalog: Catalog, grants: list[FakeGrant], at: datetime = NOW, scope: AclScope | None = None
) -> set[KafkaAcl]:
    """The ACLs the grants add to what the catalog alone wants."""
    scope = scope or AclScope()
    return set(wanted_acls(catalog, grants, at, scope)) - set(wanted_acls(catalog, [], at, scope))


def reads(topic: str, principal: str = BANK) -> set[KafkaAcl]:
    return {KafkaAcl(principal, op, "TOPIC", topic) for op in ("READ", "DESCRIBE")}


def view(catalog: Catalog, code: str, fields: tuple[str, ...]) -> str:
    return grant_disclosure(catalog.resource(code), fields).view_topic


@pytest.mark.parametrize(
    ("case", "grant", "expected"),
    [
        (
            "whole grant, every field shown: the raw topic",
            FakeGrant("BR-LEGAL-ENTITY", ()),  # fields filled in below
            "raw",
        ),
        ("partial grant: its view topic only", FakeGrant("BR-LEGAL-ENTITY", ("name",)), "view"),
        (
            "whole grant of a masked resource: its view topic",
            FakeGrant("BR-PERSON", ("name", "sex", "birth_date", "household_district")),
            "view",
        ),
        (
            "whole grant, but the base topic carries other resources: a view",
            FakeGrant("EC-BUSINESS-LICENCE", ()),
            "view",
        ),
        (
            "http delivery: no Kafka ACL",
            FakeGrant("BR-LEGAL-ENTITY", ("name",), delivery="http"),
            "",
        ),
        ("lookups: no Kafka ACL", FakeGrant("BR-PERSON", ("name",), delivery="lookup"), ""),
        ("claim checks: no Kafka ACL", FakeGrant("BR-PERSON", ("name",), delivery="verify"), ""),
        (
            "expired: nothing",
            FakeGrant("BR-LEGAL-ENTITY", ("name",), expires_at=NOW - timedelta(seconds=1)),
            "",
        ),
        (
            "expiring this instant: nothing",
            FakeGrant("BR-LEGAL-ENTITY", ("name",), expires_at=NOW),
            "",
        ),
        (
            "approved later than now: nothing yet",
            FakeGrant("BR-LEGAL-ENTITY", ("name",), approved_at=NOW + timedelta(seconds=1)),
            "",
        ),
        ("no expiry: granted", FakeGrant("BR-LEGAL-ENTITY", ("name",), expires_at=None), "view"),
        ("a resource the catalog lacks: nothing", FakeGrant("BR-NOWHERE", ("name",)), ""),
    ],
    ids=lambda v: v if isinstance(v, str) and " " in v else "",
)
def test_a_grant_becomes_read_acls_on_exactly_the_topic_it_may_read(
    catalog: Catalog, case: str, grant: FakeGrant, expected: str
) -> None:
    if not grant.fields and grant.resource in catalog.resources_by_code:
        grant = granted(grant, fields=every_field(catalog, grant.resource))
    acls = granted_acls(catalog, [grant])
    if expected == "":
        assert acls == set(), case
        return
    resource = catalog.resource(grant.resource)
    topic = resource.topic if expected == "raw" else view(catalog, grant.resource, grant.fields)
    assert acls == reads(topic), case
    # never the raw base topic unless the policy allows it
    assert (KafkaAcl(BANK, "READ", "TOPIC", resource.topic) in acls) is (expected == "raw")


def test_a_topic_of_several_resources_is_raw_only_when_all_of_them_are_granted_whole(
    catalog: Catalog,
) -> None:
    licence = FakeGrant("EC-BUSINESS-LICENCE", every_field(catalog, "EC-BUSINESS-LICENCE"))
    assert KafkaAcl(BANK, "READ", "TOPIC", CERT) not in granted_acls(catalog, [licence])
    # Two departments' grants never add up: each needs the whole topic itself.
    others = [
        FakeGrant(r.code, every_field(catalog, r.code), department="HRSS", id=f"g-{r.code}")
        for r in catalog.resources_on_topic(CERT)
    ]
    assert KafkaAcl(BANK, "READ", "TOPIC", CERT) not in granted_acls(catalog, [licence, *others])


def test_grants_of_the_same_fields_share_one_view(catalog: Catalog) -> None:
    one = FakeGrant("BR-LEGAL-ENTITY", ("name", "status"), id="g-1")
    two = FakeGrant("BR-LEGAL-ENTITY", ("status", "name"), id="g-2")
    person = FakeGrant("BR-PERSON", ("name",), id="g-3")
    acls = granted_acls(catalog, [one, two, person])
    topics = {a.name for a in acls if a.resource_type == "TOPIC"}
    assert topics == {
        view(catalog, "BR-LEGAL-ENTITY", one.fields),
        view(catalog, "BR-PERSON", ("name",)),
    }


def test_each_department_reads_under_its_own_principal(catalog: Catalog) -> None:
    grant = FakeGrant("BR-LEGAL-ENTITY", ("name",), department="HRSS")
    acls = granted_acls(catalog, [grant])
    assert {a.principal for a in acls} == {"User:hrss"}
    # The Kafka users come from the principals (a callable): each of the department's users
    # reads what it was granted; a department without one gets none.
    scope = AclScope(users={"HRSS": ["hrss-app", "hrss-etl"]})
    by_users = {a.principal for a in granted_acls(catalog, [grant], scope=scope)}
    assert by_users == {"User:hrss-app", "User:hrss-etl"}
    bank = FakeGrant("BR-LEGAL-ENTITY", ("name",))
    assert granted_acls(catalog, [bank], scope=scope) == set()


def test_the_catalogs_write_acls_stay_and_the_store_sync_reads_every_base_topic(
    catalog: Catalog,
) -> None:
    scope = AclScope(sync_user="govbus-sync", sync_group="base-store", dlq_topic="govbus.dlq")
    wanted = set(wanted_acls(catalog, [], NOW, scope))
    assert KafkaAcl("User:psb", "WRITE", "TOPIC", PERSON) in wanted
    assert KafkaAcl("User:tax", "WRITE", "TOPIC", LEGAL) in wanted  # tax_credit_rating
    assert KafkaAcl("User:psb", "WRITE", "TOPIC", LEGAL) not in wanted
    # Each department may use consumer groups of its own prefix, granted anything or not.
    assert {a for a in wanted if a.principal == BANK} == {GROUP}  # a bank publishes nothing
    groups = {a for a in wanted if a.resource_type == "GROUP" and a.principal != "User:govbus-sync"}
    assert groups == {
        KafkaAcl(f"User:{d.code.lower()}", "READ", "GROUP", f"govbus.{d.code.lower()}.", "PREFIXED")
        for d in catalog.departments
    }
    sync = {a for a in wanted if a.principal == "User:govbus-sync"}
    assert sync == (
        reads(PERSON, "User:govbus-sync")
        | reads(LEGAL, "User:govbus-sync")
        | reads(CERT, "User:govbus-sync")
        | {KafkaAcl("User:govbus-sync", "READ", "GROUP", "base-store")}
        | {KafkaAcl("User:govbus-sync", op, "TOPIC", "govbus.dlq") for op in ("WRITE", "DESCRIBE")}
    )


SCOPE = AclScope(sync_user="govbus-sync")


@pytest.mark.parametrize(
    ("acl", "managed"),
    [
        (KafkaAcl(BANK, "READ", "TOPIC", PERSON), True),
        (KafkaAcl(BANK, "READ", "TOPIC", "govbus.view.br-person.0123456789ab"), True),
        (KafkaAcl(BANK, "READ", "GROUP", "govbus.bank01.", "PREFIXED"), True),
        (KafkaAcl("User:govbus-sync", "READ", "GROUP", "base-store"), True),
        (KafkaAcl(BANK, "READ", "TOPIC", "their-own-topic"), False),  # not a govbus name
        (KafkaAcl("User:operator", "READ", "TOPIC", PERSON), False),  # not a govbus principal
        (KafkaAcl(BANK, "READ", "GROUP", "base-store"), True),  # the sync's group is govbus's
        # what reaches govbus names through a wildcard or a shorter prefix is govbus's too
        (KafkaAcl(BANK, "READ", "TOPIC", "*"), True),
        (KafkaAcl(BANK, "READ", "TOPIC", "gov", "PREFIXED"), True),
        (KafkaAcl(BANK, "READ", "TOPIC", "", "PREFIXED"), True),
        (KafkaAcl(BANK, "READ", "TOPIC", "govbus.base.", "PREFIXED"), True),
        (KafkaAcl(BANK, "READ", "TOPIC", "govx", "PREFIXED"), False),
        (KafkaAcl(BANK, "READ", "TOPIC", "gov", "LITERAL"), False),
        (KafkaAcl("User:*", "READ", "TOPIC", PERSON), True),  # everyone: never without a grant
        (KafkaAcl("User:*", "READ", "TOPIC", "their-own-topic"), False),
    ],
)
def test_only_govbus_principals_on_govbus_names_are_managed(
    catalog: Catalog, acl: KafkaAcl, managed: bool
) -> None:
    assert is_managed(acl, managed_principals(catalog, SCOPE), SCOPE) is managed


WANTED = KafkaAcl(BANK, "READ", "TOPIC", "govbus.view.br-person.0123456789ab")
REVOKED = KafkaAcl(BANK, "READ", "TOPIC", "govbus.view.br-legal-entity.0123456789ab")
BY_HAND = KafkaAcl(BANK, "READ", "TOPIC", PERSON)
FOREIGN = KafkaAcl("User:operator", "READ", "TOPIC", PERSON)


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [
        # first pass: nothing is known of earlier passes, so nothing is called drift
        ({REVOKED, FOREIGN}, None, {("added", WANTED, False), ("removed", REVOKED, False)}),
        # a grant approved since the last pass; one revoked since
        ({REVOKED}, {REVOKED}, {("added", WANTED, False), ("removed", REVOKED, False)}),
        # a wanted ACL deleted on the broker by hand: restored, as drift
        (set(), {WANTED}, {("added", WANTED, True)}),
        # an ACL added by hand for a managed principal: removed, as drift
        ({WANTED, BY_HAND}, {WANTED}, {("removed", BY_HAND, True)}),
        # in step: nothing to do; a foreign principal's ACL is never touched
        ({WANTED, FOREIGN}, {WANTED}, set()),
    ],
    ids=["first-pass", "decisions", "deleted-by-hand", "added-by-hand", "in-step"],
)
def test_a_plan_adds_the_missing_removes_the_ungranted_and_names_the_drift(
    catalog: Catalog,
    current: set[KafkaAcl],
    previous: set[KafkaAcl] | None,
    expected: set[tuple[str, KafkaAcl, bool]],
) -> None:
    principals = managed_principals(catalog, SCOPE)
    plan = plan_acls(
        {WANTED: Purpose("grant g-1", "BR-PERSON")},
        current,
        lambda acl: is_managed(acl, principals, SCOPE),
        None
        if previous is None
        else {a: Purpose("grant g-0", "BR-LEGAL-ENTITY") for a in previous},
    )
    assert {(c.kind.value, c.acl, c.drift) for c in plan.changes} == expected
    assert plan.empty is (not expected)
    for change in plan.changes:
        drift_action = "acl.drift_repaired" if change.drift else f"acl.{change.kind.value}"
        assert change.action == drift_action
        if change.kind is ChangeKind.ADDED:
            assert (change.why, change.resource) == ("grant g-1", "BR-PERSON")
        elif previous is not None and not change.drift:  # a revocation names what it was
            assert (change.why, change.resource) == (
                "no longer wanted (grant g-0)",
                "BR-LEGAL-ENTITY",
            )


def test_what_the_last_pass_changed_is_not_drift_while_the_broker_catches_up(
    catalog: Catalog,
) -> None:
    principals = managed_principals(catalog, SCOPE)
    plan = plan_acls(
        {WANTED: Purpose("grant g-1")},
        {REVOKED},  # removed by the last pass, still listed
        lambda acl: is_managed(acl, principals, SCOPE),
        {WANTED: Purpose("grant g-1")},
        settling={WANTED, REVOKED},  # WANTED was added by the last pass, not yet listed
    )
    assert {(c.kind, c.acl, c.drift) for c in plan.changes} == {
        (ChangeKind.ADDED, WANTED, False),
        (ChangeKind.REMOVED, REVOKED, False),
    }
