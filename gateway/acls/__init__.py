"""Grants enforced on Kafka: the ACLs wanted from the catalog and the active grants, kept on
the broker by a reconciler that audits every change and every drift it repairs.

- `wanted_acls`, `plan_acls` (pure): what should be on the broker, and the changes to make;
- `AclReconciler`: one pass on demand (`reconcile`, `plan`), or a loop in the gateway
  (`start`, `wake` when grants change, `stop`).
"""

from govbus.gateway.acls._broker import apply_plan, read_acls
from govbus.gateway.acls._gateway import DepartmentPrincipal, department_users, gateway_reconciler
from govbus.gateway.acls._planner import (
    MANAGED_PREFIX,
    AclChange,
    AclPlan,
    AclScope,
    ChangeKind,
    DepartmentUsers,
    GrantLike,
    KafkaAcl,
    Purpose,
    is_active,
    is_managed,
    managed_principals,
    plan_acls,
    wanted_acls,
)
from govbus.gateway.acls._reconciler import (
    AclReconcileError,
    AclReconciler,
    GrantSource,
    UserDirectory,
)

__all__ = [
    "MANAGED_PREFIX",
    "AclChange",
    "AclPlan",
    "AclReconcileError",
    "AclReconciler",
    "AclScope",
    "ChangeKind",
    "DepartmentPrincipal",
    "DepartmentUsers",
    "GrantLike",
    "GrantSource",
    "KafkaAcl",
    "Purpose",
    "UserDirectory",
    "apply_plan",
    "department_users",
    "gateway_reconciler",
    "is_active",
    "is_managed",
    "managed_principals",
    "plan_acls",
    "read_acls",
    "wanted_acls",
]
