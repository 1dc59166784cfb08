"""`/v1/subscriptions`: ask for a grant, decide, revoke, and see where each request stands.

Requests need the subscriber role; decisions are checked per subscription by the service
(the resource's provider, or the admin once a request is overdue; revocation by the
provider or the admin). An id the caller may not see is answered like one that does not
exist: 404 SUBSCRIPTION_NOT_FOUND.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from govbus.gateway._auth import Principal, current_principal, require_role
from govbus.gateway.subscriptions._models import (
    ApproveRequest,
    ReasonRequest,
    Subscription,
    SubscriptionList,
    SubscriptionRequest,
)
from govbus.gateway.subscriptions._service import SubscriptionService
from govbus.gateway.subscriptions._states import State

_ERROR = {"description": "refused; body: error_code and message"}
_COMMON: dict[int | str, dict[str, Any]] = {401: _ERROR, 404: _ERROR, 422: _ERROR}
_DECISION: dict[int | str, dict[str, Any]] = {**_COMMON, 403: _ERROR, 409: _ERROR}

subscriptions_router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"])
caller = Depends(current_principal)
subscriber = Depends(require_role("subscriber"))
state_filter = Query(default=None, description="only subscriptions in this state")


def _service(request: Request) -> SubscriptionService:
    service: SubscriptionService = request.app.state.subscriptions
    return service


@subscriptions_router.post(
    "",
    status_code=201,
    responses={401: _ERROR, 403: _ERROR, 422: _ERROR},
    summary="Ask for a grant: approved at once, pending for the provider, or refused (422)",
)
def request_subscription(
    body: SubscriptionRequest, request: Request, principal: Principal = subscriber
) -> Subscription:
    return _service(request).request(principal, body)


@subscriptions_router.get("", responses={401: _ERROR, 422: _ERROR})
def list_subscriptions(
    request: Request,
    state: State | None = state_filter,
    principal: Principal = caller,
) -> SubscriptionList:
    """Own requests and grants; for a provider also those on its resources; admin: all."""
    return SubscriptionList(subscriptions=_service(request).visible(principal, state))


@subscriptions_router.get("/{subscription_id}", responses=_COMMON)
def get_subscription(
    subscription_id: str, request: Request, principal: Principal = caller
) -> Subscription:
    return _service(request).get(principal, subscription_id)


@subscriptions_router.post("/{subscription_id}/approve", responses=_DECISION)
def approve_subscription(
    subscription_id: str,
    request: Request,
    body: ApproveRequest | None = None,
    principal: Principal = caller,
) -> Subscription:
    """Approve all requested fields, or only `fields` (never more than were asked for)."""
    body = body or ApproveRequest()
    return _service(request).approve(principal, subscription_id, body.reason, body.fields)


@subscriptions_router.post("/{subscription_id}/reject", responses=_DECISION)
def reject_subscription(
    subscription_id: str, body: ReasonRequest, request: Request, principal: Principal = caller
) -> Subscription:
    return _service(request).reject(principal, subscription_id, body.reason)


@subscriptions_router.post("/{subscription_id}/revoke", responses=_DECISION)
def revoke_subscription(
    subscription_id: str, body: ReasonRequest, request: Request, principal: Principal = caller
) -> Subscription:
    return _service(request).revoke(principal, subscription_id, body.reason)
