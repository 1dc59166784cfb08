"""The broker's side of the reconciliation: read its ACLs, apply a plan (AdminClient only)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from confluent_kafka.admin import AdminClient

# confluent_kafka.admin imports these without re-exporting them (no __all__), so strict
# mypy only accepts them from the modules that define them.
from confluent_kafka.admin._acl import AclBinding, AclBindingFilter, AclOperation, AclPermissionType
from confluent_kafka.admin._resource import ResourcePatternType, ResourceType

from govbus.gateway.acls._planner import (
    MANAGED_OPERATIONS,
    AclChange,
    AclPlan,
    KafkaAcl,
    Operation,
    PatternKind,
    ResourceKind,
)

_KINDS = ("TOPIC", "GROUP")
_PATTERNS = ("LITERAL", "PREFIXED")


def _pattern(acl: KafkaAcl) -> tuple[Any, ...]:
    """The arguments AclBinding and AclBindingFilter share: one ALLOW entry, any host."""
    return (
        ResourceType[acl.resource_type],
        acl.name,
        ResourcePatternType[acl.pattern],
        acl.principal,
        "*",
        AclOperation[acl.operation],
        AclPermissionType.ALLOW,
    )


def _binding(acl: KafkaAcl) -> AclBinding:
    return AclBinding(*_pattern(acl))


def _filter(acl: KafkaAcl) -> AclBindingFilter:
    return AclBindingFilter(*_pattern(acl))


def read_acls(admin: AdminClient, timeout: float = 10.0) -> set[KafkaAcl]:
    """Every ALLOW, host-* ACL on a topic or group, literal or prefixed, of a kind govbus
    manages (READ, WRITE, DESCRIBE). Which of them are govbus's is the planner's call."""
    # None matches any name, principal and host; the stubs only admit str.
    query = AclBindingFilter(
        ResourceType.ANY,
        None,  # type: ignore[arg-type]
        ResourcePatternType.ANY,
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        AclOperation.ANY,
        AclPermissionType.ALLOW,
    )
    bindings: Iterable[Any] = admin.describe_acls(query).result(timeout)
    return {
        KafkaAcl(
            b.principal,
            cast(Operation, b.operation.name),
            cast(ResourceKind, b.restype.name),
            b.name,
            cast(PatternKind, b.resource_pattern_type.name),
        )
        for b in bindings
        if b.host == "*"
        and b.restype.name in _KINDS
        and b.resource_pattern_type.name in _PATTERNS
        and b.operation.name in MANAGED_OPERATIONS
    }


def apply_plan(
    admin: AdminClient, plan: AclPlan, timeout: float = 10.0
) -> list[tuple[AclChange, Exception | None]]:
    """Create the plan's additions, then delete its removals; each change with its failure
    (None when the broker took it), so that what was done can be audited even if some fail."""
    outcomes: list[tuple[AclChange, Exception | None]] = []
    if plan.add:
        created = admin.create_acls([_binding(c.acl) for c in plan.add])
        outcomes += [(c, _failure(created[_binding(c.acl)], timeout)) for c in plan.add]
    if plan.remove:
        deleted = admin.delete_acls([_filter(c.acl) for c in plan.remove])
        outcomes += [(c, _failure(deleted[_filter(c.acl)], timeout)) for c in plan.remove]
    return outcomes


def _failure(future: Any, timeout: float) -> Exception | None:
    try:
        future.result(timeout)
    except Exception as exc:  # KafkaException: not authorised, ACLs not enabled, timeout
        return exc
    return None
