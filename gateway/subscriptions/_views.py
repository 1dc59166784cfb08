"""A stored subscription as seen at a moment: timed events that fell due are applied.

Reads show escalations and expiries the moment they fall due, before a sweep records
them; the sweep and the decisions record exactly these same transitions.
"""

from __future__ import annotations

from datetime import datetime

from govbus.gateway.subscriptions._models import Deadline, Subscription, Transition
from govbus.gateway.subscriptions._states import Event, State, due_events, next_state
from govbus.gateway.subscriptions._store import StoredSubscription


def _timed_reason(sub: StoredSubscription, state: State, event: Event, working_days: int) -> str:
    if event is Event.ESCALATE:
        return (
            f"no decision within {working_days} working days (due {sub.deadline_on}): "
            "escalated to the platform admin"
        )
    if state is State.ACTIVE:
        return "the grant reached its expiry date"
    return "the requested expiry date passed before a decision"


def timed_transitions(
    sub: StoredSubscription, now: datetime, working_days: int
) -> list[Transition]:
    """The transitions due on `sub` by `now`, by "system", each at the moment it fell due."""
    transitions: list[Transition] = []
    state = sub.state
    for event, at in due_events(sub.state, sub.deadline_at, sub.expires_at, now):
        following = next_state(state, event)
        transitions.append(
            Transition(
                from_state=state,
                to_state=following,
                event=str(event),
                actor="system",
                actor_role="system",
                at=at,
                reason=_timed_reason(sub, state, event, working_days),
            )
        )
        state = following
    return transitions


def subscription_view(
    sub: StoredSubscription, history: list[Transition], now: datetime, working_days: int
) -> Subscription:
    """What both sides see of `sub` at `now`."""
    history = [*history, *timed_transitions(sub, now, working_days)]
    state = history[-1].to_state if history else sub.state
    deadline = None
    if sub.deadline_on and sub.deadline_at and sub.deadline_basis:
        deadline = Deadline(
            due_on=sub.deadline_on,
            due_at=sub.deadline_at,
            working_days=working_days,
            basis=sub.deadline_basis,
        )
    return Subscription(
        id=sub.id,
        subscriber=sub.subscriber,
        department=sub.department,
        resource=sub.resource,
        provider=sub.provider,
        requested_fields=sub.requested_fields,
        granted_fields=sub.granted_fields,
        purpose=sub.purpose,
        legal_basis=sub.legal_basis,
        delivery=sub.delivery,
        state=state,
        requested_at=sub.requested_at,
        expires_at=sub.expires_at,
        deadline=deadline,
        waiting_on=(
            "provider" if state is State.PENDING else "admin" if state is State.OVERDUE else None
        ),
        escalated=any(t.to_state is State.OVERDUE for t in history),
        approved_at=sub.approved_at,
        history=tuple(history),
    )
