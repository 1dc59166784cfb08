"""The workflow through the service, on SQLite and PostgreSQL, with a clock moved by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from govbus.gateway._auth import Principal
from govbus.gateway._errors import ApiError
from govbus.gateway.audit import MemoryAuditLog
from govbus.gateway.subscriptions import State, SubscriptionService
from tests.subscriptions.conftest import (
    ADMIN,
    AMR,
    BANK,
    BANK_TWO,
    PSB,
    Clock,
    ServiceFactory,
    ask,
)

# START is Tuesday 2026-03-03 in Beijing; ten working days later is Tuesday 2026-03-17.
DUE_ON = date(2026, 3, 17)
DUE_AT = datetime(2026, 3, 17, 16, tzinfo=UTC)  # midnight after it, Beijing time


def refused(call: object, *args: object) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value


def actions(audit: MemoryAuditLog, target: str) -> list[tuple[str, str]]:
    return [(r.action, r.actor) for r in audit.records if r.target == target]


def test_unconditional_fields_are_granted_at_once(
    service: SubscriptionService, audit: MemoryAuditLog, clock: Clock
) -> None:
    calls: list[int] = []
    service.on_change(lambda: calls.append(1))
    sub = service.request(BANK, ask("BR-LEGAL-ENTITY", ["status", "name", "uscc", "name"]))
    assert sub.state is State.ACTIVE and sub.deadline is None and sub.waiting_on is None
    # The key travels with every record and is not listed; duplicates collapse.
    assert sub.granted_fields == sub.requested_fields == ("name", "status")
    [grant] = service.active_grants(clock.now)
    assert (grant.id, grant.subscriber, grant.department) == (sub.id, "bank01", "BANK01")
    assert (grant.resource, grant.fields, grant.delivery) == (
        "BR-LEGAL-ENTITY",
        ("name", "status"),
        "kafka",
    )
    assert grant.approved_at == clock.now and grant.expires_at is None
    [first] = sub.history
    assert (first.actor, first.at, first.to_state) == ("bank01", clock.now, State.ACTIVE)
    assert "unconditional" in first.reason
    assert actions(audit, sub.id) == [
        ("subscription.requested", "bank01"),
        ("subscription.approved", "system"),
    ]
    assert calls == [1]


def test_a_conditional_field_waits_for_the_provider_with_a_deadline(
    service: SubscriptionService, audit: MemoryAuditLog, clock: Clock
) -> None:
    calls: list[int] = []
    service.on_change(lambda: calls.append(1))
    sub = service.request(BANK, ask("BR-LEGAL-ENTITY", ["name", "tax_credit_rating"]))
    assert sub.state is State.PENDING and sub.waiting_on == "provider"
    assert sub.provider == "AMR" and sub.granted_fields is None
    assert sub.deadline is not None
    assert (sub.deadline.due_on, sub.deadline.due_at, sub.deadline.working_days) == (
        DUE_ON,
        DUE_AT,
        10,
    )
    assert service.active_grants(clock.now) == [] and calls == []
    # The provider sees the same deadline.
    assert service.get(AMR, sub.id).deadline == sub.deadline

    clock.advance(days=2)
    approved = service.approve(AMR, sub.id, "credit checks are within the bank's remit")
    assert approved.state is State.ACTIVE and approved.approved_at == clock.now
    assert [(t.event, t.actor, t.actor_role) for t in approved.history] == [
        ("requested", "bank01", "subscriber"),
        ("approve", "amr", "provider"),
    ]
    assert approved.history[1].reason == "credit checks are within the bank's remit"
    [grant] = service.active_grants(clock.now)
    assert grant.fields == ("name", "tax_credit_rating") and grant.approved_at == clock.now
    assert service.get(BANK, sub.id).grant() == grant
    assert calls == [1]
    assert actions(audit, sub.id)[-1] == ("subscription.approved", "amr")


@pytest.mark.parametrize(
    ("resource", "fields", "code", "named"),
    [
        ("BR-PERSON", ["name", "phone"], "FIELD_NOT_SHARED", "phone"),
        ("EC-MARRIAGE", ["status", "attributes"], "FIELD_NOT_SHARED", "attributes"),
        ("BR-LEGAL-ENTITY", ["name", "favourite_colour"], "UNKNOWN_FIELD", "favourite_colour"),
        ("BR-NOTHING", ["name"], "UNKNOWN_RESOURCE", "BR-NOTHING"),
    ],
)
def test_a_field_that_cannot_be_shared_is_refused_at_once_by_name(
    service: SubscriptionService,
    audit: MemoryAuditLog,
    resource: str,
    fields: list[str],
    code: str,
    named: str,
) -> None:
    error = refused(service.request, BANK, ask(resource, fields))
    assert (error.status, error.error_code) == (422, code)
    assert named in error.message
    assert service.visible(BANK) == [] and service.visible(ADMIN) == []
    [record] = audit.records
    assert (record.action, record.actor, record.outcome, record.target) == (
        "subscription.requested",
        "bank01",
        "refused",
        None,
    )
    assert record.reason == error.message


def test_the_provider_may_grant_fewer_fields_never_more(
    service: SubscriptionService, clock: Clock
) -> None:
    sub = service.request(BANK, ask("BR-PERSON", ["name", "birth_date", "marital_status"]))
    error = refused(service.approve, PSB, sub.id, None, ["name", "education"])
    assert (error.status, error.error_code) == (422, "FIELDS_NOT_REQUESTED")
    assert "education" in error.message
    assert service.get(BANK, sub.id).state is State.PENDING
    approved = service.approve(PSB, sub.id, None, ["name"])
    assert approved.granted_fields == ("name",)
    assert approved.requested_fields == ("birth_date", "marital_status", "name")
    assert approved.history[-1].reason == "approved by the provider"


def test_a_wider_grant_needs_a_new_request(service: SubscriptionService, clock: Clock) -> None:
    narrow = service.request(BANK, ask("BR-LEGAL-ENTITY", ["name"]))
    wide = service.request(BANK, ask("BR-LEGAL-ENTITY", ["name", "tax_credit_rating"]))
    assert wide.id != narrow.id and wide.state is State.PENDING
    # The pending wider request changes nothing in force.
    assert [g.fields for g in service.active_grants(clock.now)] == [("name",)]
    service.approve(AMR, wide.id)
    grants = {g.id: g.fields for g in service.active_grants(clock.now)}
    assert grants == {narrow.id: ("name",), wide.id: ("name", "tax_credit_rating")}


def test_rejection_is_final_and_says_why(
    service: SubscriptionService, audit: MemoryAuditLog
) -> None:
    sub = service.request(BANK, ask("BR-LEGAL-ENTITY", ["tax_credit_rating"]))
    blank = refused(service.reject, AMR, sub.id, " ")
    assert (blank.status, blank.error_code) == (422, "REASON_REQUIRED")
    rejected = service.reject(AMR, sub.id, "no legal basis for credit ratings")
    assert rejected.state is State.REJECTED and rejected.waiting_on is None
    assert rejected.history[-1].reason == "no legal basis for credit ratings"
    assert audit.records[-1].reason == "no legal basis for credit ratings"
    for again in (service.approve, service.reject):
        args = (AMR, sub.id) if again is service.approve else (AMR, sub.id, "again")
        error = refused(again, *args)
        assert (error.status, error.error_code) == (409, "INVALID_TRANSITION")
    assert "rejected" in refused(service.revoke, AMR, sub.id, "x").message


def test_who_may_decide(service: SubscriptionService, clock: Clock) -> None:
    sub = service.request(BANK, ask("BR-LEGAL-ENTITY", ["tax_credit_rating"]))
    # Another provider does not even learn that the request exists.
    assert refused(service.approve, PSB, sub.id).status == 404
    assert refused(service.get, PSB, sub.id).status == 404
    assert refused(service.get, BANK_TWO, sub.id).status == 404
    # The subscriber sees it but may not decide; the admin only once it is overdue.
    for principal in (BANK, ADMIN):
        error = refused(service.approve, principal, sub.id)
        assert (error.status, error.error_code) == (403, "FORBIDDEN")
    assert service.get(BANK, sub.id).state is State.PENDING


def test_past_the_deadline_the_request_is_overdue_and_escalated_to_the_admin(
    service: SubscriptionService, audit: MemoryAuditLog, clock: Clock
) -> None:
    sub = service.request(BANK, ask("BR-LEGAL-ENTITY", ["tax_credit_rating"]))
    clock.now = DUE_AT - timedelta(seconds=1)
    assert service.get(BANK, sub.id).state is State.PENDING
    assert service.sweep() == 0
    clock.now = DUE_AT + timedelta(hours=5)
    # Computed on read, before any sweep: both sides see it.
    for principal in (BANK, AMR, ADMIN):
        seen = service.get(principal, sub.id)
        assert (seen.state, seen.escalated, seen.waiting_on) == (State.OVERDUE, True, "admin")
    assert [s.id for s in service.visible(ADMIN, State.OVERDUE)] == [sub.id]
    assert ("subscription.escalated", "system") not in actions(audit, sub.id)
    # The sweep records it, at the moment the deadline passed.
    assert service.sweep() == 1
    assert service.sweep() == 0
    escalation = service.get(BANK, sub.id).history[-1]
    assert (escalation.event, escalation.actor, escalation.at) == ("escalate", "system", DUE_AT)
    assert "10 working days" in escalation.reason and "2026-03-17" in escalation.reason
    assert actions(audit, sub.id)[-1] == ("subscription.escalated", "system")
    # The admin decides in the provider's place.
    approved = service.approve(ADMIN, sub.id)
    assert approved.state is State.ACTIVE and approved.escalated and approved.waiting_on is None
    assert (approved.history[-1].actor, approved.history[-1].actor_role) == (
        "data-bureau",
        "admin",
    )


def test_a_decision_after_the_deadline_records_the_escalation_first(
    service: SubscriptionService, clock: Clock
) -> None:
    sub = service.request(BANK, ask("BR-LEGAL-ENTITY", ["tax_credit_rating"]))
    clock.now = DUE_AT + timedelta(days=1)
    decided = service.reject(AMR, sub.id, "late, but no")
    assert [(t.from_state, t.to_state) for t in decided.history] == [
        (None, State.PENDING),
        (State.PENDING, State.OVERDUE),
        (State.OVERDUE, State.REJECTED),
    ]
    assert decided.history[1].at == DUE_AT


def test_revocation_by_the_provider_or_the_admin_is_final(
    service: SubscriptionService, audit: MemoryAuditLog, clock: Clock
) -> None:
    calls: list[int] = []
    service.on_change(lambda: calls.append(1))
    first = service.request(BANK, ask("BR-LEGAL-ENTITY", ["name"]))
    second = service.request(BANK, ask("BR-LEGAL-ENTITY", ["status"]))
    error = refused(service.revoke, BANK, first.id, "I want out")
    assert (error.status, error.error_code) == (403, "FORBIDDEN")
    assert refused(service.revoke, PSB, first.id, "not mine").status == 404
    revoked = service.revoke(AMR, first.id, "the bank's licence was withdrawn")
    assert revoked.state is State.REVOKED and revoked.grant() is None
    assert service.revoke(ADMIN, second.id, "audit finding").history[-1].actor_role == "admin"
    assert service.active_grants(clock.now) == []
    assert calls == [1, 1, 1, 1]
    assert refused(service.approve, AMR, first.id).error_code == "INVALID_TRANSITION"
    assert ("subscription.revoked", "amr") in actions(audit, first.id)


def test_a_grant_expires_at_the_end_of_its_day(
    service: SubscriptionService, audit: MemoryAuditLog, clock: Clock
) -> None:
    calls: list[int] = []
    service.on_change(lambda: calls.append(1))
    sub = service.request(BANK, ask("BR-LEGAL-ENTITY", ["name"], expires_on="2026-03-10"))
    end = datetime(2026, 3, 10, 16, tzinfo=UTC)  # midnight after Mar 10 in Beijing
    assert sub.expires_at == end
    assert [g.id for g in service.active_grants(end - timedelta(microseconds=1))] == [sub.id]
    assert service.active_grants(end) == []  # computed, before any sweep
    clock.now = end + timedelta(seconds=3)
    expired = service.get(BANK, sub.id)
    assert expired.state is State.EXPIRED and expired.grant() is None
    assert calls == [1]
    assert service.sweep() == 1
    assert calls == [1, 1]
    last = service.get(BANK, sub.id).history[-1]
    assert (last.event, last.actor, last.at, last.to_state) == (
        "expire",
        "system",
        end,
        State.EXPIRED,
    )
    assert actions(audit, sub.id)[-1] == ("subscription.expired", "system")
    assert refused(service.revoke, AMR, sub.id, "late").error_code == "INVALID_TRANSITION"


def test_a_request_whose_expiry_passes_undecided_expires(
    service: SubscriptionService, clock: Clock
) -> None:
    sub = service.request(
        BANK, ask("BR-LEGAL-ENTITY", ["tax_credit_rating"], expires_on="2026-03-05")
    )
    clock.advance(days=3)
    seen = service.get(AMR, sub.id)
    assert (seen.state, seen.escalated) == (State.EXPIRED, False)
    assert refused(service.approve, AMR, sub.id).error_code == "INVALID_TRANSITION"


def test_an_expiry_in_the_past_is_refused(service: SubscriptionService) -> None:
    error = refused(
        service.request, BANK, ask("BR-LEGAL-ENTITY", ["name"], expires_on="2026-03-02")
    )
    assert (error.status, error.error_code) == (422, "INVALID_EXPIRY")
    # Today (Beijing) is allowed: the grant lasts until the day ends.
    assert service.request(BANK, ask("BR-LEGAL-ENTITY", ["name"], expires_on="2026-03-03")).state


def test_each_principal_lists_what_it_may_see(service: SubscriptionService) -> None:
    mine = service.request(BANK, ask("BR-LEGAL-ENTITY", ["tax_credit_rating"]))
    granted = service.request(BANK, ask("BR-LEGAL-ENTITY", ["name"]))
    person = service.request(BANK_TWO, ask("BR-PERSON", ["name"]))
    assert {s.id for s in service.visible(BANK)} == {mine.id, granted.id}
    assert {s.id for s in service.visible(BANK_TWO)} == {person.id}
    assert {s.id for s in service.visible(AMR)} == {mine.id, granted.id}
    assert [s.id for s in service.visible(AMR, State.PENDING)] == [mine.id]
    assert [s.id for s in service.visible(PSB, State.PENDING)] == [person.id]
    assert {s.id for s in service.visible(ADMIN)} == {mine.id, granted.id, person.id}


def test_personal_numbers_in_a_reason_never_reach_history_or_audit(
    service: SubscriptionService, audit: MemoryAuditLog
) -> None:
    sub = service.request(BANK, ask("BR-PERSON", ["name"]))
    written = "applicant 110105198503120020 (tel 13812345678) is not a customer"
    rejected = service.reject(PSB, sub.id, written)
    stored = service.get(ADMIN, sub.id).history[-1].reason
    for text in (rejected.history[-1].reason, stored, audit.records[-1].reason or ""):
        assert "110105198503120020" not in text and "13812345678" not in text
        assert text == "applicant [id-number] (tel [phone]) is not a customer"


def test_a_failing_listener_does_not_undo_the_change(
    service: SubscriptionService, clock: Clock
) -> None:
    def broken() -> None:
        raise RuntimeError("reconciler down")

    calls: list[int] = []
    service.on_change(broken)
    service.on_change(lambda: calls.append(1))
    sub = service.request(BANK, ask("BR-LEGAL-ENTITY", ["name"]))
    assert service.get(BANK, sub.id).state is State.ACTIVE and calls == [1]


def test_a_subscriber_without_a_department_and_odd_ids(service: SubscriptionService) -> None:
    nobody = Principal(name="loose", department=None, roles=frozenset({"subscriber"}))
    error = refused(service.request, nobody, ask("BR-LEGAL-ENTITY", ["name"]))
    assert (error.status, error.error_code) == (403, "NO_DEPARTMENT")
    for odd in ("nope", "a\x00b", "x" * 5000, "00000000-0000-0000-0000-000000000000"):
        assert refused(service.get, ADMIN, odd).error_code == "SUBSCRIPTION_NOT_FOUND"
        assert refused(service.revoke, ADMIN, odd, "r").error_code == "SUBSCRIPTION_NOT_FOUND"


def test_a_restart_keeps_every_request_and_its_history(
    make_service: ServiceFactory, database_url: str, clock: Clock
) -> None:
    before = make_service(database_url)
    sub = before.request(BANK, ask("BR-LEGAL-ENTITY", ["tax_credit_rating"]))
    before.approve(AMR, sub.id, None, ["tax_credit_rating"])
    after = make_service(database_url)  # migrations run again: nothing to do
    seen = after.get(BANK, sub.id)
    assert seen.state is State.ACTIVE and len(seen.history) == 2
    assert [g.id for g in after.active_grants(clock.now)] == [sub.id]


def test_concurrent_decisions_on_one_request_have_one_winner(
    service: SubscriptionService, clock: Clock
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    sub = service.request(BANK, ask("BR-LEGAL-ENTITY", ["tax_credit_rating"]))

    def decide(n: int) -> int | str:
        try:
            if n % 2:
                service.approve(AMR, sub.id)
            else:
                service.reject(AMR, sub.id, f"reason {n}")
        except ApiError as refused:
            return refused.error_code
        return n

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(decide, range(8)))
    winners = [o for o in outcomes if isinstance(o, int)]
    assert len(winners) == 1
    assert sorted(o for o in outcomes if isinstance(o, str)) == ["INVALID_TRANSITION"] * 7
    final = service.get(BANK, sub.id)
    assert final.state is (State.ACTIVE if winners[0] % 2 else State.REJECTED)
    assert len(final.history) == 2
