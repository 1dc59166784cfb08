"""Bodies and views of the subscription API, and the `Grant` every delivery path reads."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from govbus.gateway.subscriptions._calendar import DeadlineBasis
from govbus.gateway.subscriptions._states import State

# `verify`: claim checks only (true/false answers, no values), e.g. a bank verifying a
# marital status it may not read; decided by the same request rules as the others.
Delivery = Literal["kafka", "http", "lookup", "verify"]
LAST_EXPIRY = date(2199, 12, 31)  # date arithmetic near year 9999 overflows (a 500)
FieldName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
ResourceCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9-]{0,63}$")]


def _printable(text: str) -> str:
    # NUL and other control characters never reach the store (PostgreSQL refuses NUL).
    if any((ord(c) < 32 and c not in "\n\t") or ord(c) == 127 for c in text):
        raise ValueError("control characters are not allowed")
    if not text.strip():
        raise ValueError("must not be blank")
    return text


LongText = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_printable)]
Reason = Annotated[str, StringConstraints(max_length=1000), AfterValidator(_printable)]


class Grant(BaseModel):
    """What an active subscription lets its subscriber receive: the one model of every path.

    `fields` are the granted data fields of `resource`, sorted; the resource's key always
    travels with a record and is not listed. `expires_at` None means until revoked.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    subscriber: str  # principal name
    department: str  # the subscriber's department code
    resource: str  # catalog code
    fields: tuple[str, ...]
    delivery: Delivery
    approved_at: datetime
    expires_at: datetime | None


class SubscriptionRequest(BaseModel):
    """`POST /v1/subscriptions`: what a subscriber asks for, why, and until when."""

    model_config = ConfigDict(extra="forbid")

    resource: ResourceCode
    fields: list[FieldName] = Field(min_length=1, max_length=200)
    purpose: LongText
    legal_basis: LongText
    delivery: Delivery
    # The last day of use (China time); the grant ends when that day ends. None: until revoked.
    expires_on: date | None = Field(default=None, le=LAST_EXPIRY)


class ApproveRequest(BaseModel):
    """The provider may approve fewer fields than asked for, never more."""

    model_config = ConfigDict(extra="forbid")

    reason: Reason | None = None
    fields: list[FieldName] | None = Field(default=None, min_length=1, max_length=200)


class ReasonRequest(BaseModel):
    """A rejection or revocation says why."""

    model_config = ConfigDict(extra="forbid")

    reason: Reason


class Transition(BaseModel):
    """One state change: who, when, why."""

    model_config = ConfigDict(frozen=True)

    from_state: State | None
    to_state: State
    event: str
    actor: str  # principal name, or "system" for timed events
    actor_role: str  # subscriber, provider, admin, system
    at: datetime
    reason: str


class Deadline(BaseModel):
    model_config = ConfigDict(frozen=True)

    due_on: date  # the last working day to decide (China time)
    due_at: datetime  # the moment it passes: the end of that day
    working_days: int
    basis: DeadlineBasis


class Subscription(BaseModel):
    """A request and, once approved, its grant; as both sides see it."""

    model_config = ConfigDict(frozen=True)

    id: str
    subscriber: str
    department: str
    resource: str
    provider: str  # the department that decides
    requested_fields: tuple[str, ...]
    granted_fields: tuple[str, ...] | None
    purpose: str
    legal_basis: str
    delivery: Delivery
    state: State
    requested_at: datetime
    expires_at: datetime | None
    deadline: Deadline | None  # None when approved at once
    # Who must act now: "provider" (pending), "admin" (overdue, escalated), None (decided).
    waiting_on: Literal["provider", "admin"] | None
    escalated: bool
    approved_at: datetime | None
    history: tuple[Transition, ...]

    def grant(self) -> Grant | None:
        if self.state is not State.ACTIVE or self.approved_at is None:
            return None
        return Grant(
            id=self.id,
            subscriber=self.subscriber,
            department=self.department,
            resource=self.resource,
            fields=self.granted_fields or (),
            delivery=self.delivery,
            approved_at=self.approved_at,
            expires_at=self.expires_at,
        )


class SubscriptionList(BaseModel):
    subscriptions: list[Subscription]
