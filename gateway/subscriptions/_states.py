"""The subscription workflow as an explicit state machine: states, events, allowed moves.

Pure: no clock, no database. Who may cause an event is decided by the service; this module
only says whether the event is allowed in the state, and which timed events are due.

    new ──request (all fields unconditional)──► active
    new ──request (any field conditional)────► pending
    pending ──approve──► active      pending ──reject──► rejected
    pending ──escalate (the deadline passed)──► overdue
    overdue ──approve──► active      overdue ──reject──► rejected   (provider or admin)
    active ──revoke──► revoked       active ──expire──► expired
    pending / overdue ──expire (the requested expiry passed undecided)──► expired

A refused request (a not-shared or unknown field) is never stored: it is audited only.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class State(StrEnum):
    PENDING = "pending"  # waiting on the resource's provider, before the deadline
    OVERDUE = "overdue"  # past the deadline, undecided: escalated to the platform admin
    ACTIVE = "active"  # a grant
    REJECTED = "rejected"
    REVOKED = "revoked"
    EXPIRED = "expired"


class Event(StrEnum):
    REQUEST_APPROVED = "requested_approved"  # every field unconditional: a grant at once
    REQUEST_PENDING = "requested"  # some field conditional: the provider decides
    APPROVE = "approve"
    REJECT = "reject"
    REVOKE = "revoke"
    ESCALATE = "escalate"
    EXPIRE = "expire"


NEW = None  # the "state" before a request exists
TERMINAL = frozenset({State.REJECTED, State.REVOKED, State.EXPIRED})
UNDECIDED = frozenset({State.PENDING, State.OVERDUE})

TRANSITIONS: dict[tuple[State | None, Event], State] = {
    (NEW, Event.REQUEST_APPROVED): State.ACTIVE,
    (NEW, Event.REQUEST_PENDING): State.PENDING,
    (State.PENDING, Event.APPROVE): State.ACTIVE,
    (State.PENDING, Event.REJECT): State.REJECTED,
    (State.PENDING, Event.ESCALATE): State.OVERDUE,
    (State.PENDING, Event.EXPIRE): State.EXPIRED,
    (State.OVERDUE, Event.APPROVE): State.ACTIVE,
    (State.OVERDUE, Event.REJECT): State.REJECTED,
    (State.OVERDUE, Event.EXPIRE): State.EXPIRED,
    (State.ACTIVE, Event.REVOKE): State.REVOKED,
    (State.ACTIVE, Event.EXPIRE): State.EXPIRED,
}


class InvalidTransition(Exception):
    """`event` is not allowed in `state` (the API answers 409 INVALID_TRANSITION)."""

    def __init__(self, state: State | None, event: Event) -> None:
        shown = "new" if state is None else str(state)
        super().__init__(f"cannot {event} a subscription that is {shown}")
        self.state = state
        self.event = event


def next_state(state: State | None, event: Event) -> State:
    """The state `event` leads to from `state`, or InvalidTransition."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(state, event) from None


def due_events(
    state: State, deadline_at: datetime | None, expires_at: datetime | None, now: datetime
) -> list[tuple[Event, datetime]]:
    """The timed events that have come due by `now`, each at its own moment, in order.

    An undecided request escalates at its deadline and expires at its requested expiry;
    a grant expires at its expiry. Events are replayed in time order, so a request whose
    deadline came before its expiry is first escalated, then expired.
    """
    timed: list[tuple[Event, datetime]] = []
    if deadline_at is not None and deadline_at <= now:
        timed.append((Event.ESCALATE, deadline_at))
    if expires_at is not None and expires_at <= now:
        timed.append((Event.EXPIRE, expires_at))
    timed.sort(key=lambda item: item[1])
    due: list[tuple[Event, datetime]] = []
    current = state
    for event, at in timed:
        if (current, event) in TRANSITIONS:
            due.append((event, at))
            current = TRANSITIONS[(current, event)]
    return due
