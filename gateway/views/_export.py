"""Grants → the views file, and an audit record for each view started or retired."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from govbus import (
    Catalog,
    GovbusError,
    GrantPolicy,
    read_views_file,
    view_policies,
    write_views_file,
)
from govbus.gateway.audit import AuditRecord, AuditSink
from govbus.gateway.subscriptions import Grant, SubscriptionService

VIEW_DELIVERIES = frozenset({"kafka", "http"})  # both read view topics for partial grants


@dataclass(frozen=True, slots=True)
class ViewChange:
    kind: str  # "wanted" or "unwanted"
    topic: str
    resource: str
    fields: tuple[str, ...]


def wanted_field_sets(grants: Iterable[Grant]) -> list[tuple[str, tuple[str, ...]]]:
    """The field sets of the grants that read views (Kafka and HTTP deliveries)."""
    return sorted({(g.resource, g.fields) for g in grants if g.delivery in VIEW_DELIVERIES})


def export_views(
    catalog: Catalog, grants: Iterable[Grant], path: Path, audit: AuditSink, actor: str
) -> list[ViewChange]:
    """Write the views file for `grants`; audit each view that is new or no longer wanted
    compared with the file as it was (the projector starts and retires them)."""
    field_sets = wanted_field_sets(grants)
    before = _views_in(catalog, path)
    after = {p.view_topic: p for p in view_policies(catalog, field_sets)}
    write_views_file(path, field_sets)
    changes = [_change("wanted", p) for t, p in sorted(after.items()) if t not in before]
    changes += [_change("unwanted", p) for t, p in sorted(before.items()) if t not in after]
    for change in changes:
        audit.append(
            AuditRecord(
                actor=actor,
                action=f"view.{change.kind}",
                resource=change.resource,
                fields=change.fields,
                target=change.topic,
            )
        )
    return changes


def _views_in(catalog: Catalog, path: Path) -> dict[str, GrantPolicy]:
    if not path.exists():
        return {}
    try:
        return {p.view_topic: p for p in read_views_file(catalog, path)}
    except GovbusError:  # an unreadable file is replaced: every view counts as new
        return {}


def _change(kind: str, policy: GrantPolicy) -> ViewChange:
    return ViewChange(
        kind, policy.view_topic, policy.resource.code, tuple(sorted(policy.delivered))
    )


def keep_views_file(
    catalog: Catalog, service: SubscriptionService, path: Path, audit: AuditSink
) -> None:
    """Write the views file now and after every change to the active grants (the gateway's
    `GOVBUS_GATEWAY_VIEWS_FILE`). A small atomic file write: cheap enough for the listener."""
    lock = threading.Lock()

    def export() -> None:
        with lock:  # two changes at once: one writer at a time, the last one wins
            export_views(catalog, service.active_grants(datetime.now(UTC)), path, audit, "system")

    export()
    service.on_change(export)
