"""Who may see a subscription, and in which capacity a principal may change it."""

from __future__ import annotations

from govbus.gateway._auth import Principal
from govbus.gateway.subscriptions import _codes
from govbus.gateway.subscriptions._states import Event, State
from govbus.gateway.subscriptions._store import StoredSubscription


def may_see(principal: Principal, sub: StoredSubscription) -> bool:
    """Its subscriber, the resource's provider department, and the admin."""
    return (
        principal.name == sub.subscriber
        or principal.has_role("admin")
        or (principal.has_role("provider") and principal.department == sub.provider)
    )


def capacity(principal: Principal, sub: StoredSubscription, event: Event) -> str:
    """Who the principal acts as for `event` on `sub` ("provider" or "admin"), or 403."""
    if principal.has_role("provider") and principal.department == sub.provider:
        return "provider"
    if event is Event.REVOKE:
        if principal.has_role("admin"):
            return "admin"
        raise _codes.may_not_revoke(principal.name)
    # The admin decides in the provider's place once the request is escalated.
    if principal.has_role("admin") and sub.state is not State.PENDING:
        return "admin"
    raise _codes.may_not_decide(principal.name)
