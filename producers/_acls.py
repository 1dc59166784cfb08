"""Kafka ACLs derived from the catalog: a department may WRITE only where it is an authority.

Each department publishes with its own SASL principal (`User:<code>`, lower-case by
default). It gets WRITE and DESCRIBE on the topic of every resource with at least one
field (or the key) it is the authoritative source of, and nothing else.

Managed, hence removed when stale: WRITE ACLs (literal topic, host *, ALLOW) of department
principals. DESCRIBE is only ever added: consumers' read grants need it too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._acl import AclBinding, AclBindingFilter, AclOperation, AclPermissionType
from confluent_kafka.admin._resource import ResourcePatternType, ResourceType

from govbus import Catalog

MANAGED_OPERATIONS = ("WRITE",)
GRANTED_OPERATIONS = ("WRITE", "DESCRIBE")


@dataclass(frozen=True, order=True, slots=True)
class TopicAcl:
    principal: str
    topic: str
    operation: str

    def binding(self) -> AclBinding:
        return AclBinding(
            ResourceType.TOPIC,
            self.topic,
            ResourcePatternType.LITERAL,
            self.principal,
            "*",
            AclOperation[self.operation],
            AclPermissionType.ALLOW,
        )


@dataclass(frozen=True)
class AclPlan:
    create: tuple[TopicAcl, ...]
    delete: tuple[TopicAcl, ...]

    @property
    def empty(self) -> bool:
        return not self.create and not self.delete


def department_principal(code: str, template: str = "User:{code}", lowercase: bool = True) -> str:
    return template.format(code=code.lower() if lowercase else code)


def publishing_topics(catalog: Catalog) -> dict[str, set[str]]:
    """Department code to the topics it is an authority on (key or any field)."""
    topics: dict[str, set[str]] = {d.code: set() for d in catalog.departments}
    for resource in catalog.resources:
        for spec in (resource.key, *resource.fields):
            topics.setdefault(spec.authority, set()).add(resource.topic)
    return topics


def desired_acls(
    catalog: Catalog, template: str = "User:{code}", lowercase: bool = True
) -> set[TopicAcl]:
    return {
        TopicAcl(department_principal(code, template, lowercase), topic, operation)
        for code, topics in publishing_topics(catalog).items()
        for topic in topics
        for operation in GRANTED_OPERATIONS
    }


def managed_principals(
    catalog: Catalog, template: str = "User:{code}", lowercase: bool = True
) -> set[str]:
    return {department_principal(d.code, template, lowercase) for d in catalog.departments}


def plan_acls(desired: set[TopicAcl], current: set[TopicAcl], principals: set[str]) -> AclPlan:
    """What to create (missing) and delete (managed, present, no longer wanted)."""
    stale = {
        acl
        for acl in current - desired
        if acl.principal in principals and acl.operation in MANAGED_OPERATIONS
    }
    return AclPlan(tuple(sorted(desired - current)), tuple(sorted(stale)))


def current_acls(admin: AdminClient, timeout: float = 30.0) -> set[TopicAcl]:
    """Every literal, host-*, ALLOW topic ACL on the cluster."""
    # None matches any name, principal and host; the stubs only admit str.
    query = AclBindingFilter(
        ResourceType.TOPIC,
        None,  # type: ignore[arg-type]
        ResourcePatternType.LITERAL,
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        AclOperation.ANY,
        AclPermissionType.ALLOW,
    )
    bindings: Iterable[Any] = admin.describe_acls(query).result(timeout)
    return {
        TopicAcl(b.principal, b.name, b.operation.name)
        for b in bindings
        if b.host == "*" and b.operation.name in GRANTED_OPERATIONS
    }


def apply_plan(admin: AdminClient, plan: AclPlan, timeout: float = 30.0) -> None:
    if plan.create:
        for future in admin.create_acls([acl.binding() for acl in plan.create]).values():
            future.result(timeout)
    if plan.delete:
        filters = [
            AclBindingFilter(
                ResourceType.TOPIC,
                acl.topic,
                ResourcePatternType.LITERAL,
                acl.principal,
                "*",
                AclOperation[acl.operation],
                AclPermissionType.ALLOW,
            )
            for acl in plan.delete
        ]
        for future in admin.delete_acls(filters).values():
            future.result(timeout)


def sync_acls(
    admin_conf: dict[str, Any],
    catalog: Catalog,
    *,
    template: str = "User:{code}",
    lowercase: bool = True,
    dry_run: bool = False,
) -> AclPlan:
    admin = AdminClient(admin_conf)
    plan = plan_acls(
        desired_acls(catalog, template, lowercase),
        current_acls(admin),
        managed_principals(catalog, template, lowercase),
    )
    if not dry_run:
        apply_plan(admin, plan)
    return plan
