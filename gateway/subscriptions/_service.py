"""The subscription workflow: requests decided by the sharing policy, then by people.

`request_verdict` (the core's one sharing policy) decides at once what it can: all fields
unconditional is a grant, any field not shared (or unknown) a refusal, any conditional field
a request for the provider, due in 10 working days. Timed events (escalation at the
deadline, expiry) are applied on every read and recorded by `sweep` and by every decision,
at the moment they fell due. Every change is a row of history and an audit record.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import structlog

from govbus import Catalog, GovbusError, RequestOutcome, request_verdict, scrub_text
from govbus.gateway._auth import Principal
from govbus.gateway._db import Database, Transaction
from govbus.gateway.audit import AuditRecord, AuditSink
from govbus.gateway.subscriptions import _codes
from govbus.gateway.subscriptions._authority import capacity, may_see
from govbus.gateway.subscriptions._calendar import (
    WORKING_DAYS,
    china_date,
    deadline_after,
    end_of_day,
)
from govbus.gateway.subscriptions._models import (
    Grant,
    Subscription,
    SubscriptionRequest,
    Transition,
)
from govbus.gateway.subscriptions._states import (
    Event,
    InvalidTransition,
    State,
    next_state,
)
from govbus.gateway.subscriptions._store import StoredSubscription, SubscriptionStore
from govbus.gateway.subscriptions._views import subscription_view, timed_transitions

_log = structlog.get_logger("gateway.subscriptions")
Clock = Callable[[], datetime]
ChangeListener = Callable[[], None]

_ACTIONS = {
    Event.REQUEST_APPROVED: "subscription.approved",
    Event.APPROVE: "subscription.approved",
    Event.REJECT: "subscription.rejected",
    Event.REVOKE: "subscription.revoked",
    Event.ESCALATE: "subscription.escalated",
    Event.EXPIRE: "subscription.expired",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


def _well_formed(subscription_id: str) -> bool:
    # Ids are canonical UUIDs; anything else (NUL, 10 kB of text) names nothing: 404.
    try:
        return str(uuid.UUID(subscription_id)) == subscription_id
    except ValueError:
        return False


class _Changes:
    """What one operation changed: audited and announced once its transaction committed."""

    def __init__(self) -> None:
        self.audit: list[AuditRecord] = []
        self.grants_changed = False

    def record(self, sub: StoredSubscription, t: Transition, fields: tuple[str, ...]) -> None:
        self.grants_changed |= State.ACTIVE in (t.from_state, t.to_state)
        self.audit.append(
            AuditRecord(
                actor=t.actor,
                action=_ACTIONS[Event(t.event)],
                resource=sub.resource,
                fields=fields,
                target=sub.id,
                reason=t.reason,
            )
        )


class SubscriptionService:
    def __init__(
        self,
        db: Database,
        catalog: Catalog,
        audit: AuditSink,
        *,
        clock: Clock = utc_now,
        working_days: int = WORKING_DAYS,
    ) -> None:
        self.store = SubscriptionStore(db)
        self.catalog = catalog
        self.audit = audit
        self.clock = clock
        self.working_days = working_days
        self._listeners: list[ChangeListener] = []
        self._listeners_lock = threading.Lock()

    # --- notifications -------------------------------------------------------------------

    def on_change(self, listener: ChangeListener) -> None:
        """Call `listener()` after every committed change to the set of active grants
        (approval, revocation, expiry), e.g. to reconcile Kafka ACLs at once.

        Listeners run on the thread that made the change, after the commit: keep them short
        (wake a worker); an exception is logged and does not undo the change."""
        with self._listeners_lock:
            self._listeners.append(listener)

    @contextmanager
    def _writing(self) -> Iterator[tuple[Transaction, _Changes]]:
        changes = _Changes()
        with self.store.db.transaction(write=True) as tx:
            yield tx, changes
        for record in changes.audit:
            self.audit.append(record)
        if changes.grants_changed:
            with self._listeners_lock:
                listeners = list(self._listeners)
            for listener in listeners:
                try:
                    listener()
                except Exception as exc:  # the change is committed; a listener cannot undo it
                    _log.error("grant change listener failed", error_type=type(exc).__name__)

    # --- requests ------------------------------------------------------------------------

    def request(self, principal: Principal, body: SubscriptionRequest) -> Subscription:
        """A grant at once, a request for the provider, or a refusal (422) naming the fields."""
        if not principal.department:
            raise _codes.no_department(principal.name)
        try:
            resource = self.catalog.resource(body.resource)
        except GovbusError:
            refusal = _codes.unknown_resource(body.resource)
            self.audit.append(
                AuditRecord(
                    actor=principal.name,
                    action="subscription.requested",
                    reason=refusal.message,
                    outcome="refused",
                )
            )
            raise refusal from None
        asked = tuple(sorted(set(body.fields)))
        verdict = request_verdict(resource, asked)
        if verdict.outcome is RequestOutcome.REFUSED:
            refusal = (
                _codes.field_not_shared(resource.code, verdict.not_shared)
                if verdict.not_shared
                else _codes.unknown_field(resource.code, verdict.unknown)
            )
            self.audit.append(
                AuditRecord(
                    actor=principal.name,
                    action="subscription.requested",
                    resource=resource.code,
                    fields=tuple(n for n in asked if n not in verdict.unknown),
                    reason=refusal.message,
                    outcome="refused",
                )
            )
            raise refusal
        now = self.clock()
        expires_at = end_of_day(body.expires_on).astimezone(UTC) if body.expires_on else None
        if body.expires_on is not None and body.expires_on < china_date(now):
            raise _codes.invalid_expiry()
        fields = tuple(n for n in asked if n != resource.key.name)
        approved = verdict.outcome is RequestOutcome.APPROVED
        deadline_on, basis = deadline_after(now, self.working_days)
        sub = StoredSubscription(
            id=str(uuid.uuid4()),
            subscriber=principal.name,
            department=principal.department,
            resource=resource.code,
            provider=resource.provider,
            requested_fields=fields,
            granted_fields=fields if approved else None,
            purpose=body.purpose,
            legal_basis=body.legal_basis,
            delivery=body.delivery,
            state=next_state(None, Event.REQUEST_APPROVED if approved else Event.REQUEST_PENDING),
            requested_at=now,
            expires_at=expires_at,
            deadline_on=None if approved else deadline_on,
            deadline_at=None if approved else end_of_day(deadline_on).astimezone(UTC),
            deadline_basis=None if approved else basis,
            approved_at=now if approved else None,
        )
        reason = (
            "every field is unconditional: approved at once"
            if approved
            else f"conditional fields need the provider {resource.provider}: "
            + ", ".join(verdict.conditional)
        )
        first = Transition(
            from_state=None,
            to_state=sub.state,
            event=str(Event.REQUEST_APPROVED if approved else Event.REQUEST_PENDING),
            actor=principal.name,
            actor_role="subscriber",
            at=now,
            reason=reason,
        )
        with self._writing() as (tx, changes):
            self.store.insert(tx, sub, first)
            changes.audit.append(
                AuditRecord(
                    actor=principal.name,
                    action="subscription.requested",
                    resource=resource.code,
                    fields=fields,
                    target=sub.id,
                    reason=reason,
                    outcome=str(sub.state),
                )
            )
            if approved:
                changes.grants_changed = True
                changes.audit.append(
                    AuditRecord(
                        actor="system",
                        action="subscription.approved",
                        resource=resource.code,
                        fields=fields,
                        target=sub.id,
                        reason=reason,
                    )
                )
        return self._view(sub, [first], now)

    # --- decisions -----------------------------------------------------------------------

    def approve(
        self,
        principal: Principal,
        subscription_id: str,
        reason: str | None = None,
        fields: list[str] | None = None,
    ) -> Subscription:
        def decide(sub: StoredSubscription, now: datetime) -> StoredSubscription:
            granted = sub.requested_fields if fields is None else tuple(sorted(set(fields)))
            extra = set(granted) - set(sub.requested_fields)
            if extra:
                raise _codes.fields_not_requested(extra)
            return sub.model_copy(update={"granted_fields": granted, "approved_at": now})

        return self._decide(principal, subscription_id, Event.APPROVE, reason, decide)

    def reject(self, principal: Principal, subscription_id: str, reason: str) -> Subscription:
        """A rejection needs a reason (422 REASON_REQUIRED when blank)."""
        if not reason.strip():
            raise _codes.reason_required()
        return self._decide(principal, subscription_id, Event.REJECT, reason, None)

    def revoke(self, principal: Principal, subscription_id: str, reason: str) -> Subscription:
        """A revocation needs a reason (422 REASON_REQUIRED when blank)."""
        if not reason.strip():
            raise _codes.reason_required()
        return self._decide(principal, subscription_id, Event.REVOKE, reason, None)

    def _decide(
        self,
        principal: Principal,
        subscription_id: str,
        event: Event,
        reason: str | None,
        change: Callable[[StoredSubscription, datetime], StoredSubscription] | None,
    ) -> Subscription:
        now = self.clock()
        # A reason is free text: identity and phone numbers never reach the history or audit.
        reason = scrub_text(reason) if reason else None
        with self._writing() as (tx, changes):
            sub = self.store.get(tx, subscription_id) if _well_formed(subscription_id) else None
            if sub is None or not may_see(principal, sub):
                raise _codes.not_found(subscription_id)
            sub = self._settle(tx, sub, now, changes)
            acting_as = capacity(principal, sub, event)
            try:
                state = next_state(sub.state, event)
            except InvalidTransition as exc:
                raise _codes.invalid_transition(exc) from None
            updated = change(sub, now) if change else sub
            updated = updated.model_copy(update={"state": state})
            transition = Transition(
                from_state=sub.state,
                to_state=state,
                event=str(event),
                actor=principal.name,
                actor_role=acting_as,
                at=now,
                reason=reason if reason else f"approved by the {acting_as}",
            )
            self.store.change(tx, updated, transition)
            changes.record(updated, transition, updated.granted_fields or sub.requested_fields)
            history = self.store.history(tx, [sub.id])[sub.id]
        return self._view(updated, history, now)

    # --- timed events --------------------------------------------------------------------

    def _settle(
        self, tx: Transaction, sub: StoredSubscription, now: datetime, changes: _Changes
    ) -> StoredSubscription:
        """Record the timed events due on `sub` by `now`, each at the moment it fell due."""
        for transition in timed_transitions(sub, now, self.working_days):
            changed = sub.model_copy(update={"state": transition.to_state})
            sub = self.store.change(tx, changed, transition)
            changes.record(sub, transition, sub.granted_fields or sub.requested_fields)
        return sub

    def sweep(self) -> int:
        """Record every timed event due now; the number of subscriptions that changed."""
        now = self.clock()
        with self.store.db.transaction() as tx:  # most sweeps find nothing: no write lock
            if not self.store.due_ids(tx, now):
                return 0
        with self._writing() as (tx, changes):
            ids = self.store.due_ids(tx, now)
            for subscription_id in ids:
                sub = self.store.get(tx, subscription_id)
                if sub is not None:
                    self._settle(tx, sub, now, changes)
        return len(ids)

    # --- reads ---------------------------------------------------------------------------

    def get(self, principal: Principal, subscription_id: str) -> Subscription:
        now = self.clock()
        with self.store.db.transaction() as tx:
            sub = self.store.get(tx, subscription_id) if _well_formed(subscription_id) else None
            if sub is None or not may_see(principal, sub):
                raise _codes.not_found(subscription_id)
            history = self.store.history(tx, [sub.id])[sub.id]
        return self._view(sub, history, now)

    def visible(self, principal: Principal, state: State | None = None) -> list[Subscription]:
        """Own requests and grants; a provider's also those on its resources; all for admin."""
        now = self.clock()
        provider = principal.department if principal.has_role("provider") else None
        with self.store.db.transaction() as tx:
            subs = self.store.visible_to(
                tx, principal.name, provider, everything=principal.has_role("admin")
            )
            histories = self.store.history(tx, [s.id for s in subs])
        views = [self._view(s, histories[s.id], now) for s in subs]
        return [v for v in views if state is None or v.state is state]

    def active_grants(self, at: datetime) -> list[Grant]:
        """Every grant in force at `at` (expiry computed here, whether or not swept)."""
        with self.store.db.transaction() as tx:
            rows = self.store.grants_at(tx, at)
        return [
            Grant(
                id=r[0],
                subscriber=r[1],
                department=r[2],
                resource=r[3],
                fields=tuple(json.loads(r[4])),
                delivery=r[5],
                approved_at=datetime.fromisoformat(r[6]),
                expires_at=datetime.fromisoformat(r[7]) if r[7] else None,
            )
            for r in rows
        ]

    def _view(
        self, sub: StoredSubscription, history: list[Transition], now: datetime
    ) -> Subscription:
        return subscription_view(sub, history, now, self.working_days)
