"""The state machine: exactly the listed transitions are allowed, in a table."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from govbus.gateway.subscriptions._states import (
    NEW,
    TERMINAL,
    Event,
    InvalidTransition,
    State,
    due_events,
    next_state,
)

ALLOWED = {
    (None, Event.REQUEST_APPROVED): State.ACTIVE,
    (None, Event.REQUEST_PENDING): State.PENDING,
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
EVERY_PAIR = list(itertools.product([NEW, *State], Event))
T0 = datetime(2026, 3, 3, tzinfo=UTC)


@pytest.mark.parametrize(("state", "event"), list(ALLOWED))
def test_allowed_transition(state: State | None, event: Event) -> None:
    assert next_state(state, event) is ALLOWED[(state, event)]


@pytest.mark.parametrize(("state", "event"), [pair for pair in EVERY_PAIR if pair not in ALLOWED])
def test_every_other_transition_is_refused(state: State | None, event: Event) -> None:
    with pytest.raises(InvalidTransition) as refused:
        next_state(state, event)
    assert refused.value.event is event
    assert str(event) in str(refused.value)


def test_terminal_states_have_no_way_out() -> None:
    assert {State.REJECTED, State.REVOKED, State.EXPIRED} == TERMINAL
    for state, event in itertools.product(TERMINAL, Event):
        with pytest.raises(InvalidTransition):
            next_state(state, event)


def test_only_a_request_leads_to_pending() -> None:
    into_pending = [pair for pair, target in ALLOWED.items() if target is State.PENDING]
    assert into_pending == [(None, Event.REQUEST_PENDING)]


def test_an_undecided_request_escalates_at_its_deadline_then_expires() -> None:
    deadline, expiry = T0 + timedelta(days=14), T0 + timedelta(days=30)
    assert due_events(State.PENDING, deadline, expiry, T0 + timedelta(days=13)) == []
    assert due_events(State.PENDING, deadline, expiry, deadline) == [(Event.ESCALATE, deadline)]
    assert due_events(State.PENDING, deadline, expiry, T0 + timedelta(days=40)) == [
        (Event.ESCALATE, deadline),
        (Event.EXPIRE, expiry),
    ]
    # Already escalated: only the expiry is left.
    assert due_events(State.OVERDUE, deadline, expiry, T0 + timedelta(days=40)) == [
        (Event.EXPIRE, expiry)
    ]


def test_a_request_expiring_before_its_deadline_is_never_overdue() -> None:
    deadline, expiry = T0 + timedelta(days=14), T0 + timedelta(days=5)
    assert due_events(State.PENDING, deadline, expiry, T0 + timedelta(days=20)) == [
        (Event.EXPIRE, expiry)
    ]


def test_a_grant_only_expires_and_a_decided_request_has_no_timed_event() -> None:
    expiry = T0 + timedelta(days=5)
    later = T0 + timedelta(days=20)
    assert due_events(State.ACTIVE, None, expiry, later) == [(Event.EXPIRE, expiry)]
    # A grant ignores the deadline it had as a request.
    assert due_events(State.ACTIVE, T0, None, later) == []
    for state in TERMINAL:
        assert due_events(state, T0, expiry, later) == []
