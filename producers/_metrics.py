"""Prometheus counters of the publishing side.

Labels are department, resource, topic and error codes only: never a personal value.
"""

from __future__ import annotations

from prometheus_client import Counter

PUBLISH_REFUSED = Counter(
    "govbus_publish_refused",
    "Events refused before sending, by department, resource and error code.",
    ["department", "resource", "code"],
)
PUBLISH_DELIVERED = Counter(
    "govbus_publish_delivered",
    "Events the broker acknowledged, by department and topic.",
    ["department", "topic"],
)
PUBLISH_DELIVERY_FAILED = Counter(
    "govbus_publish_delivery_failed",
    "Events the broker did not acknowledge, by department, topic and error code.",
    ["department", "topic", "code"],
)
