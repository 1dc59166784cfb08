"""The Kafka ACLs govbus wants, from the catalog and the active grants, and the plan to get there.

Pure: no broker, no clock, no database. The reconciler (`_reconciler.py`) reads the broker,
calls `wanted_acls` and `plan_acls`, applies the plan and audits it.

What is wanted (every ACL is ALLOW, host `*`). A department's principals are the SASL users
of its principals in the gateway (`AclScope.users`):

- each of them: WRITE and DESCRIBE on every topic the department is an authority on (its key
  or any field), from the catalog, whatever it was granted; and READ on the department's own
  consumer groups, `govbus.<dept>.*` (prefixed). A group reads nothing by itself, and holding
  it before any grant makes a denied read fail as what it is, TOPIC_AUTHORIZATION_FAILED;
- for every active grant with `kafka` delivery, each of the grantee department's principals:
  READ and DESCRIBE on the one topic the grant may read. That is the raw base topic only when
  the core policy says the grant sees every field as stored (`GrantPolicy.reads_raw_topic`)
  *and* the department may read every resource on that topic raw (the certificate topic
  carries five resources); otherwise the grant's view topic (`GrantPolicy.view_topic`),
  which the ACL may precede;
- the store sync's principal: READ and DESCRIBE on every base topic, READ on its group,
  WRITE and DESCRIBE on the dead-letter topic.

Managed, hence removed when not wanted: ALLOW ACLs on topics and groups named `govbus.*`
(and the sync's group), or reaching them through `*` or a shorter prefix, whose principal
is one govbus manages (departments, the sync, `User:*`). Everything else on the broker
(operators' users, DENY rules, other names) is left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal, Protocol

from govbus import Catalog, grant_disclosure

Delivery = Literal["kafka", "http", "lookup", "verify"]  # as the subscriptions' Delivery
ResourceKind = Literal["TOPIC", "GROUP"]
PatternKind = Literal["LITERAL", "PREFIXED"]
Operation = Literal["READ", "WRITE", "DESCRIBE"]

MANAGED_PREFIX = "govbus."
MANAGED_OPERATIONS: frozenset[str] = frozenset({"READ", "WRITE", "DESCRIBE"})
_READS: tuple[Operation, ...] = ("READ", "DESCRIBE")
_WRITES: tuple[Operation, ...] = ("WRITE", "DESCRIBE")

# Department code -> the SASL users of its principals (none: no ACLs for it).
DepartmentUsers = Mapping[str, Collection[str]]


class GrantLike(Protocol):
    """What the planner reads of a grant (`govbus.gateway.subscriptions.Grant` has it)."""

    @property
    def id(self) -> str: ...
    @property
    def department(self) -> str: ...
    @property
    def resource(self) -> str: ...
    @property
    def fields(self) -> tuple[str, ...]: ...
    @property
    def delivery(self) -> Delivery: ...
    @property
    def approved_at(self) -> datetime: ...
    @property
    def expires_at(self) -> datetime | None: ...


@dataclass(frozen=True, order=True, slots=True)
class KafkaAcl:
    """One ALLOW, host-* ACL binding, the unit the broker stores and the planner compares."""

    principal: str  # "User:<sasl user>"
    operation: Operation
    resource_type: ResourceKind
    name: str
    pattern: PatternKind = "LITERAL"

    def __str__(self) -> str:
        kind = self.resource_type.lower()
        if self.pattern == "PREFIXED":
            kind += " prefixed"
        return f"ALLOW {self.principal} {self.operation} {kind} {self.name}"


@dataclass(frozen=True, slots=True)
class Purpose:
    """Why an ACL is wanted, for the audit: `why` in words, and the resource it serves."""

    why: str
    resource: str | None = None


@dataclass(frozen=True, slots=True)
class AclScope:
    """Who govbus gives ACLs to, and the names it gives them on."""

    # None: by convention, each department's one user is its code in lower case.
    users: DepartmentUsers | None = None
    sync_user: str | None = None  # the store sync's SASL user, when it has one
    sync_group: str = "base-store"
    dlq_topic: str = "govbus.dlq"

    def principals(self, department: str) -> list[str]:
        users = (department.lower(),) if self.users is None else self.users.get(department, ())
        return sorted(f"User:{user}" for user in users)

    def consumer_group_prefix(self, department: str) -> str:
        return f"{MANAGED_PREFIX}{department.lower()}."


def is_active(grant: GrantLike, at: datetime) -> bool:
    """Approved by `at` and not yet expired (an expiry is the first instant it no longer holds)."""
    return grant.approved_at <= at and (grant.expires_at is None or at < grant.expires_at)


def wanted_acls(
    catalog: Catalog, grants: Iterable[GrantLike], at: datetime, scope: AclScope
) -> dict[KafkaAcl, Purpose]:
    """Every ACL govbus wants on the broker, each with its purpose (for the audit)."""
    wanted: dict[KafkaAcl, Purpose] = {}

    def want(acl: KafkaAcl, why: str, resource: str | None = None) -> None:
        wanted.setdefault(acl, Purpose(why, resource))

    for code, topics in _publishing_topics(catalog).items():
        group = scope.consumer_group_prefix(code)
        for principal in scope.principals(code):
            for topic in sorted(topics):
                for operation in _WRITES:
                    why = f"catalog: {code} publishes"
                    want(KafkaAcl(principal, operation, "TOPIC", topic), why)
            want(KafkaAcl(principal, "READ", "GROUP", group, "PREFIXED"), f"{code}'s own groups")

    kafka_grants = sorted(
        (g for g in grants if g.delivery == "kafka" and is_active(g, at)), key=lambda g: g.id
    )
    raw = _raw_readers(catalog, kafka_grants)
    for grant in kafka_grants:
        if grant.resource not in catalog.resources_by_code:
            continue
        resource = catalog.resources_by_code[grant.resource]
        topic = (
            resource.topic
            if resource.topic in raw.get(grant.department, ())
            else grant_disclosure(resource, grant.fields).view_topic
        )
        for principal in scope.principals(grant.department):
            for operation in _READS:
                acl = KafkaAcl(principal, operation, "TOPIC", topic)
                want(acl, f"grant {grant.id}", resource.code)

    if scope.sync_user:
        principal = f"User:{scope.sync_user}"
        for topic in catalog.topics():
            for operation in _READS:
                want(KafkaAcl(principal, operation, "TOPIC", topic), "store sync")
        want(KafkaAcl(principal, "READ", "GROUP", scope.sync_group), "store sync")
        for operation in _WRITES:
            want(KafkaAcl(principal, operation, "TOPIC", scope.dlq_topic), "store sync")
    return wanted


EVERYONE = "User:*"


def managed_principals(catalog: Catalog, scope: AclScope) -> frozenset[str]:
    """Department users, the sync's, and `User:*`: an ACL for everyone on a govbus name
    would let any department read without a grant."""
    principals = {EVERYONE, *(p for d in catalog.departments for p in scope.principals(d.code))}
    if scope.sync_user:
        principals.add(f"User:{scope.sync_user}")
    return frozenset(principals)


def is_managed(acl: KafkaAcl, principals: Collection[str], scope: AclScope) -> bool:
    """Whether govbus owns this ACL: it may then add it, and remove it when not wanted.

    Its names are `govbus.*` (and the sync's group); an ACL that reaches them through a
    wildcard (`*`) or a shorter prefix (`gov`) is its too, or a grant could be bypassed."""
    reaches = (
        acl.name.startswith(MANAGED_PREFIX)
        or (acl.pattern == "LITERAL" and acl.name == "*")
        or (acl.pattern == "PREFIXED" and MANAGED_PREFIX.startswith(acl.name))
        or (acl.resource_type == "GROUP" and acl.name == scope.sync_group)
    )
    return acl.principal in principals and acl.operation in MANAGED_OPERATIONS and reaches


class ChangeKind(StrEnum):
    ADDED = "added"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class AclChange:
    """One change to make; `drift` when it repairs the broker rather than follows a decision."""

    kind: ChangeKind
    acl: KafkaAcl
    why: str
    resource: str | None = None
    drift: bool = False

    @property
    def action(self) -> str:
        return "acl.drift_repaired" if self.drift else f"acl.{self.kind.value}"


@dataclass(frozen=True, slots=True)
class AclPlan:
    add: tuple[AclChange, ...] = ()
    remove: tuple[AclChange, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.add and not self.remove

    @property
    def changes(self) -> tuple[AclChange, ...]:
        return (*self.add, *self.remove)


def plan_acls(
    wanted: Mapping[KafkaAcl, Purpose],
    current: Collection[KafkaAcl],
    managed: Callable[[KafkaAcl], bool],
    previous: Mapping[KafkaAcl, Purpose] | None = None,
    settling: Collection[KafkaAcl] = (),
) -> AclPlan:
    """Add what is wanted and missing; remove what is managed, present and not wanted.

    `previous` is what was wanted at the last reconciliation (None: unknown, e.g. a one-shot
    sync). A missing ACL that was wanted then was deleted by hand, and a present one that was
    not wanted then was added by hand: both are drift. Otherwise a change follows a decision
    (a grant approved, revoked or expired; the catalog changed). `settling` are the ACLs the
    last pass changed: the broker may not show that change yet, so they are never drift.
    """
    present = set(current)

    def drift(acl: KafkaAcl, was_wanted: bool) -> bool:
        return previous is not None and acl not in settling and (acl in previous) is was_wanted

    add = tuple(
        AclChange(ChangeKind.ADDED, acl, purpose.why, purpose.resource, drift(acl, True))
        for acl, purpose in sorted(wanted.items())
        if acl not in present
    )
    remove = tuple(
        _removal(acl, (previous or {}).get(acl), drift(acl, False))
        for acl in sorted(present)
        if acl not in wanted and managed(acl)
    )
    return AclPlan(add, remove)


def _removal(acl: KafkaAcl, was: Purpose | None, drift: bool) -> AclChange:
    if drift:
        return AclChange(ChangeKind.REMOVED, acl, "not wanted: added by hand", drift=True)
    if was is None:
        return AclChange(ChangeKind.REMOVED, acl, "not wanted")
    return AclChange(ChangeKind.REMOVED, acl, f"no longer wanted ({was.why})", was.resource)


def _publishing_topics(catalog: Catalog) -> dict[str, set[str]]:
    """Department code to the topics it is an authority on (key or any field)."""
    topics: dict[str, set[str]] = {d.code: set() for d in catalog.departments}
    for resource in catalog.resources:
        for spec in (resource.key, *resource.fields):
            topics.setdefault(spec.authority, set()).add(resource.topic)
    return topics


def _raw_readers(catalog: Catalog, grants: Iterable[GrantLike]) -> dict[str, set[str]]:
    """Department to the base topics it may read raw: every resource on them fully granted."""
    full: dict[str, set[str]] = {}
    for grant in grants:
        resource = catalog.resources_by_code.get(grant.resource)
        if resource is not None and grant_disclosure(resource, grant.fields).reads_raw_topic:
            full.setdefault(grant.department, set()).add(resource.code)
    return {
        department: {
            topic
            for topic in catalog.topics()
            if {r.code for r in catalog.resources_on_topic(topic)} <= codes
        }
        for department, codes in full.items()
    }
