"""Random sequences of requests, decisions, revocations, sweeps and passing days.

Each step's answer is checked against who may do what in which state, and after every step
the invariants hold for every subscription: nothing unshareable is ever granted, a grant
never holds more than was asked, a final state is final, overdue means past the deadline
and undecided, the history is a chain of allowed transitions, and the grants in force are
exactly the active subscriptions.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
)

from govbus import Catalog, Settings, SharingType, load_catalog
from govbus.gateway._auth import Principal
from govbus.gateway._db import open_database
from govbus.gateway._errors import ApiError
from govbus.gateway.audit import MemoryAuditLog
from govbus.gateway.subscriptions import State, Subscription, SubscriptionService
from govbus.gateway.subscriptions._states import TERMINAL, TRANSITIONS, UNDECIDED, Event
from tests.subscriptions.conftest import ADMIN, AMR, BANK, BANK_TWO, PSB, Clock, ask

CATALOG: Catalog = load_catalog(Settings().schemas_dir / "catalog.yaml")
RESOURCES = ["BR-LEGAL-ENTITY", "BR-PERSON", "EC-MARRIAGE", "EC-BUSINESS-LICENCE"]
CAB = Principal(name="cab", department="CAB", roles=frozenset({"provider"}))
# The deciding providers twice: most attempts should be by someone who may decide.
DECIDERS = [AMR, PSB, CAB, AMR, PSB, CAB, ADMIN, BANK, BANK_TWO]
SHAREABLE = {
    code: {f.name for f in CATALOG.resource(code).fields if f.sharing is not SharingType.NOT_SHARED}
    for code in RESOURCES
}


def expected_capacity(principal: Principal, sub: Subscription, event: Event) -> str | None:
    """Who `principal` acts as, by the rules of the workflow; None: 403."""
    if principal.has_role("provider") and principal.department == sub.provider:
        return "provider"
    if principal.has_role("admin") and (event is Event.REVOKE or sub.state is not State.PENDING):
        return "admin"
    return None


def may_see(principal: Principal, sub: Subscription) -> bool:
    return (
        principal.name == sub.subscriber
        or principal.has_role("admin")
        or (principal.has_role("provider") and principal.department == sub.provider)
    )


class Workflow(RuleBasedStateMachine):
    subscriptions = Bundle("subscriptions")

    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.TemporaryDirectory()
        self.clock = Clock()
        self.audit = MemoryAuditLog()
        db = open_database(f"sqlite:///{Path(self.directory.name) / 'gateway.db'}")
        self.service = SubscriptionService(db, CATALOG, self.audit, clock=self.clock)
        self.final: dict[str, State] = {}
        self.refusals = 0

    def teardown(self) -> None:
        self.directory.cleanup()

    @rule(
        target=subscriptions,
        principal=st.sampled_from([BANK, BANK_TWO]),
        resource=st.sampled_from(RESOURCES),
        data=st.data(),
        expires_in=st.none() | st.integers(min_value=0, max_value=40),
    )
    def request(
        self, principal: Principal, resource: str, data: st.DataObject, expires_in: int | None
    ) -> MultipleResults[str]:
        spec = CATALOG.resource(resource)
        names = [spec.key.name, *spec.fields_by_name, "bogus_field"]
        fields = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=4))
        expires_on = None
        if expires_in is not None:
            expires_on = (self.clock.now + timedelta(days=expires_in + 1)).date().isoformat()
        asked = {spec.key.name, *fields}
        kinds = {
            spec.key.sharing if n == spec.key.name else spec.fields_by_name[n].sharing
            for n in asked
            if n != "bogus_field"
        }
        try:
            sub = self.service.request(principal, ask(resource, fields, expires_on=expires_on))
        except ApiError as refused:
            assert refused.status == 422
            assert "bogus_field" in asked or SharingType.NOT_SHARED in kinds
            self.refusals += 1
            return multiple()
        assert "bogus_field" not in asked and SharingType.NOT_SHARED not in kinds
        conditional = SharingType.CONDITIONAL in kinds
        assert sub.state is (State.PENDING if conditional else State.ACTIVE)
        return multiple(sub.id)

    def _attempt(self, principal: Principal, sub_id: str, event: Event, **kwargs: object) -> None:
        before = self.service.get(ADMIN, sub_id)
        call = {
            Event.APPROVE: self.service.approve,
            Event.REJECT: self.service.reject,
            Event.REVOKE: self.service.revoke,
        }[event]
        try:
            after = call(principal, sub_id, **kwargs)  # type: ignore[operator]
        except ApiError as refused:
            outcome: int | Subscription = refused.status
        else:
            outcome = after
        if not may_see(principal, before):
            assert outcome == 404
            return
        capacity = expected_capacity(principal, before, event)
        if capacity is None:
            assert outcome == 403
            return
        if (before.state, event) not in TRANSITIONS:
            assert outcome == 409
            return
        extra = set(kwargs.get("fields") or ()) - set(before.requested_fields)  # type: ignore[call-overload]
        if extra:
            assert outcome == 422
            return
        assert isinstance(outcome, Subscription)
        assert outcome.state is TRANSITIONS[(before.state, event)]
        assert (outcome.history[-1].actor, outcome.history[-1].actor_role) == (
            principal.name,
            capacity,
        )

    @rule(
        sub_id=subscriptions,
        principal=st.sampled_from(DECIDERS),
        narrow=st.none() | st.integers(min_value=0, max_value=3),
        widen=st.booleans(),
    )
    def approve(self, sub_id: str, principal: Principal, narrow: int | None, widen: bool) -> None:
        fields: list[str] | None = None
        if narrow is not None or widen:
            requested = list(self.service.get(ADMIN, sub_id).requested_fields)
            fields = (requested[:narrow] if narrow else requested) or requested
            fields = [*fields, "education"] if widen else fields
        self._attempt(principal, sub_id, Event.APPROVE, reason=None, fields=fields)

    @rule(sub_id=subscriptions, principal=st.sampled_from(DECIDERS))
    def reject(self, sub_id: str, principal: Principal) -> None:
        self._attempt(principal, sub_id, Event.REJECT, reason="not within the stated purpose")

    @rule(sub_id=subscriptions, principal=st.sampled_from(DECIDERS))
    def revoke(self, sub_id: str, principal: Principal) -> None:
        self._attempt(principal, sub_id, Event.REVOKE, reason="the purpose has ended")

    @rule(hours=st.integers(min_value=1, max_value=24 * 12))
    def time_passes(self, hours: int) -> None:
        self.clock.advance(hours=hours)

    @rule()
    def sweep(self) -> None:
        self.service.sweep()
        # After a sweep, nothing is left to record: the stored state is the computed one.
        assert self.service.sweep() == 0

    # --- invariants ----------------------------------------------------------------------

    @invariant()
    def grants_are_within_the_policy_and_the_request(self) -> None:
        now = self.clock.now
        subs = {s.id: s for s in self.service.visible(ADMIN)}
        grants = self.service.active_grants(now)
        assert {g.id for g in grants} == {i for i, s in subs.items() if s.state is State.ACTIVE}
        for grant in grants:
            sub = subs[grant.id]
            assert set(grant.fields) <= SHAREABLE[grant.resource]
            assert set(grant.fields) <= set(sub.requested_fields)
            assert grant.expires_at is None or grant.expires_at > now
            assert grant.approved_at <= now
            assert (grant.subscriber, grant.department) == (sub.subscriber, sub.department)

    @invariant()
    def final_states_stay_final(self) -> None:
        for sub in self.service.visible(ADMIN):
            if sub.id in self.final:
                assert sub.state is self.final[sub.id]
            elif sub.state in TERMINAL:
                self.final[sub.id] = sub.state

    @invariant()
    def overdue_means_past_the_deadline_and_undecided(self) -> None:
        now = self.clock.now
        for sub in self.service.visible(ADMIN):
            decided = any(t.event in ("approve", "reject") for t in sub.history)
            if sub.state is State.OVERDUE:
                assert sub.deadline is not None and sub.deadline.due_at <= now
                assert not decided and sub.waiting_on == "admin"
            if sub.state is State.PENDING:
                assert sub.deadline is not None and now < sub.deadline.due_at
                assert sub.waiting_on == "provider"
            if sub.state in UNDECIDED:
                assert sub.expires_at is None or now < sub.expires_at
            assert sub.escalated == any(t.to_state is State.OVERDUE for t in sub.history)

    @invariant()
    def history_is_a_chain_of_allowed_transitions(self) -> None:
        for sub in self.service.visible(ADMIN):
            previous: State | None = None
            for t in sub.history:
                assert t.from_state is previous
                assert TRANSITIONS[(previous, Event(t.event))] is t.to_state
                assert t.actor and t.reason and t.actor_role
                previous = t.to_state
            assert previous is sub.state
            moments = [t.at for t in sub.history]
            assert moments == sorted(moments)

    @invariant()
    def every_request_is_audited(self) -> None:
        requested = [r for r in self.audit.records if r.action == "subscription.requested"]
        stored = {s.id for s in self.service.visible(ADMIN)}
        assert {r.target for r in requested if r.outcome != "refused"} == stored
        assert sum(r.outcome == "refused" for r in requested) == self.refusals


Workflow.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestWorkflow = Workflow.TestCase
