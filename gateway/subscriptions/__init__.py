"""The subscription workflow: requests decided by the sharing policy and the provider, grants.

`Grant` and `SubscriptionService.active_grants(at)` are what the delivery paths and the
Kafka ACL reconciler read; `SubscriptionService.on_change(listener)` tells them at once when
the set of grants changes.
"""

from govbus.gateway.subscriptions._calendar import DeadlineBasis, deadline_after
from govbus.gateway.subscriptions._models import Delivery, Grant, Subscription, SubscriptionRequest
from govbus.gateway.subscriptions._router import subscriptions_router
from govbus.gateway.subscriptions._service import ChangeListener, SubscriptionService
from govbus.gateway.subscriptions._states import State
from govbus.gateway.subscriptions._sweep import subscription_sweeper

__all__ = [
    "ChangeListener",
    "DeadlineBasis",
    "Delivery",
    "Grant",
    "State",
    "Subscription",
    "SubscriptionRequest",
    "SubscriptionService",
    "deadline_after",
    "subscription_sweeper",
    "subscriptions_router",
]
