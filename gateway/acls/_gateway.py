"""The reconciler as the gateway runs it: built from the gateway's settings."""

from __future__ import annotations

from govbus import Catalog, admin_config
from govbus.gateway._settings import GatewaySettings
from govbus.gateway.acls._planner import AclScope, KafkaUsers
from govbus.gateway.acls._reconciler import AclReconciler, GrantSource
from govbus.gateway.audit import AuditSink


def code_as_kafka_user(department: str) -> tuple[str]:
    """A department's SASL user by convention: its code, lower-case (no principals store)."""
    return (department.lower(),)


def gateway_reconciler(
    settings: GatewaySettings,
    catalog: Catalog,
    grants: GrantSource,
    audit: AuditSink,
    kafka_users: KafkaUsers = code_as_kafka_user,
    actor: str = "system",
) -> AclReconciler:
    scope = AclScope(
        kafka_users=kafka_users,
        sync_user=settings.gateway_sync_kafka_user,
        sync_group=settings.gateway_sync_group,
        dlq_topic=settings.dlq_topic,
    )
    return AclReconciler(admin_config(settings), catalog, grants, audit, scope, actor=actor)
