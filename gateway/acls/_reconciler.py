"""The reconciler: make the broker's managed ACLs what the catalog and the grants want.

One pass reads the broker, plans (`_planner.py`), applies and audits each change. In the
gateway it runs on a thread started by the lifespan, every `interval` seconds and at once
when `wake()` is called (the subscription service calls it when a grant changes). Expiry
needs no event: each pass plans at the clock's now, so an expired grant loses its ACLs
within one interval. `govbus admin acls sync` runs one pass.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import structlog
from confluent_kafka.admin import AdminClient

from govbus import Catalog
from govbus.gateway.acls._broker import apply_plan, read_acls
from govbus.gateway.acls._planner import (
    AclPlan,
    AclScope,
    ChangeKind,
    DepartmentUsers,
    GrantLike,
    KafkaAcl,
    Purpose,
    is_managed,
    managed_principals,
    plan_acls,
    wanted_acls,
)
from govbus.gateway.audit import AuditRecord, AuditSink

GrantSource = Callable[[datetime], Sequence[GrantLike]]
UserDirectory = Callable[[], DepartmentUsers]  # read at every pass: users come and go

log = structlog.get_logger("gateway.acls")


def _now() -> datetime:
    return datetime.now(UTC)


class AclReconcileError(Exception):
    """Some planned changes were refused by the broker (the others were applied and audited)."""

    def __init__(self, plan: AclPlan, failed: Sequence[KafkaAcl]) -> None:
        super().__init__(
            f"{len(failed)} of {len(plan.changes)} ACL change(s) refused by the broker"
        )
        self.plan = plan
        self.failed = tuple(failed)


class AclReconciler:
    def __init__(
        self,
        admin_config: dict[str, Any],
        catalog: Catalog,
        grants: GrantSource,
        audit: AuditSink,
        scope: AclScope | None = None,
        *,
        users: UserDirectory | None = None,
        clock: Callable[[], datetime] = _now,
        timeout: float = 10.0,
        actor: str = "system",
    ) -> None:
        self._actor = actor
        self._admin = AdminClient(admin_config)
        self._catalog = catalog
        self._grants = grants
        self._audit = audit
        self._scope = scope or AclScope()
        self._users = users
        self._clock = clock
        self._timeout = timeout
        self._previous: dict[KafkaAcl, Purpose] | None = None  # wanted at the last pass
        self._settling: frozenset[KafkaAcl] = frozenset()  # changed by the last pass
        self._lock = threading.Lock()  # one pass at a time (the loop and an on-demand sync)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def plan(self) -> AclPlan:
        """What a pass would change now, changing nothing."""
        return self._plan()[0]

    def reconcile(self) -> AclPlan:
        """One pass: apply the plan and audit each change. Raises AclReconcileError when the
        broker refused some of it (the rest is applied and audited)."""
        with self._lock:
            plan, wanted = self._plan()
            failed: list[KafkaAcl] = []
            for change, error in apply_plan(self._admin, plan, self._timeout):
                if error is not None:
                    failed.append(change.acl)
                    log.warning("ACL change refused", acl=str(change.acl), error=str(error))
                    continue
                self._audit.append(
                    AuditRecord(
                        actor=self._actor,
                        action=change.action,
                        resource=change.resource,
                        target=str(change.acl),
                        reason=f"{change.kind.value}: {change.why}",
                    )
                )
            self._previous = {a: p for a, p in wanted.items() if a not in failed}
            self._settling = self._await_broker(plan, set(failed))
        if failed:
            raise AclReconcileError(plan, failed)
        if not plan.empty:
            log.info("ACLs reconciled", added=len(plan.add), removed=len(plan.remove))
        return plan

    def _await_broker(self, plan: AclPlan, failed: set[KafkaAcl]) -> frozenset[KafkaAcl]:
        """Wait until the broker lists what was applied (it lags the controller's commit,
        by seconds on a loaded machine), so the next pass does not redo it. Returns what it
        still does not list: the next pass will not call that drift."""
        applied = [c for c in plan.changes if c.acl not in failed]
        deadline = time.monotonic() + self._timeout
        while applied:
            listed = read_acls(self._admin, self._timeout)
            applied = [c for c in applied if (c.kind is ChangeKind.ADDED) is not (c.acl in listed)]
            if not applied or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if applied:
            log.warning("ACL changes not yet listed by the broker", changes=len(applied))
        return frozenset(c.acl for c in applied)

    def _plan(self) -> tuple[AclPlan, dict[KafkaAcl, Purpose]]:
        at = self._clock()
        scope = self._scope if self._users is None else replace(self._scope, users=self._users())
        wanted = wanted_acls(self._catalog, self._grants(at), at, scope)
        # A principal wanted last pass and gone now (removed, its user dropped) stays managed,
        # so that its ACLs go too.
        principals = managed_principals(self._catalog, scope) | {
            acl.principal for acl in self._previous or ()
        }
        current = read_acls(self._admin, self._timeout)
        plan = plan_acls(
            wanted,
            current,
            lambda acl: is_managed(acl, principals, scope),
            self._previous,
            self._settling,
        )
        return plan, wanted

    # --- the background loop -----------------------------------------------------------

    def wake(self) -> None:
        """Run a pass now (grants changed); safe from any thread."""
        self._wake.set()

    def start(self, interval: float = 1.0) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(interval,), name="acl-reconciler", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self, interval: float) -> None:
        failures = 0
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.reconcile()
                failures = 0
            except Exception as exc:  # broker away or refusing: retry, backing off to 30 s
                failures += 1
                log.warning("ACL reconciliation failed", error=str(exc), attempt=failures)
            pause = interval if failures == 0 else min(30.0, interval * 2**failures)
            self._wake.wait(pause)
