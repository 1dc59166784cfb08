"""The reconciler as the gateway runs it: built from the gateway's settings and principals."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from govbus import Catalog, admin_config
from govbus.gateway._settings import GatewaySettings
from govbus.gateway.acls._planner import AclScope
from govbus.gateway.acls._reconciler import AclReconciler, GrantSource, UserDirectory
from govbus.gateway.audit import AuditSink


class DepartmentPrincipal(Protocol):
    """What the ACLs read of a principal (`govbus.gateway.principals.PrincipalRecord`)."""

    @property
    def kind(self) -> str: ...
    @property
    def department(self) -> str | None: ...
    @property
    def kafka_user(self) -> str | None: ...
    @property
    def enabled(self) -> bool: ...


def department_users(principals: Iterable[DepartmentPrincipal]) -> dict[str, list[str]]:
    """Department code -> the SASL users of its enabled department principals."""
    users: dict[str, list[str]] = {}
    for p in principals:
        if p.kind == "department" and p.enabled and p.department and p.kafka_user:
            users.setdefault(p.department, []).append(p.kafka_user)
    return users


def gateway_reconciler(
    settings: GatewaySettings,
    catalog: Catalog,
    grants: GrantSource,
    audit: AuditSink,
    users: UserDirectory | None = None,
    actor: str = "system",
) -> AclReconciler:
    scope = AclScope(
        sync_user=settings.gateway_sync_kafka_user,
        sync_group=settings.gateway_sync_group,
        dlq_topic=settings.dlq_topic,
    )
    return AclReconciler(
        admin_config(settings), catalog, grants, audit, scope, users=users, actor=actor
    )
