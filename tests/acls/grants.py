"""Grants and catalogs for the ACL tests (the planner takes any object shaped like a Grant)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from govbus import Catalog

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class FakeGrant:
    """The attributes of `govbus.gateway.subscriptions.Grant` the planner reads."""

    resource: str
    fields: tuple[str, ...]
    department: str = "BANK01"
    delivery: Literal["kafka", "http", "lookup", "verify"] = "kafka"
    id: str = "g-1"
    subscriber: str = "bank01-app"
    approved_at: datetime = T0
    expires_at: datetime | None = field(default=T0 + timedelta(days=365))


def every_field(catalog: Catalog, code: str) -> tuple[str, ...]:
    return tuple(f.name for f in catalog.resource(code).fields)


def with_unmasked_legal_entity(catalog: Catalog) -> Catalog:
    """The catalog with BR-LEGAL-ENTITY's masks dropped: a whole grant of it reads raw, and
    it is the only resource on its topic."""
    # Through plain data: model_copy would keep the originals' cached lookups.
    raw = catalog.model_dump(mode="json")
    for resource in raw["resources"]:
        if resource["code"] == "BR-LEGAL-ENTITY":
            resource["key"]["mask"] = None
            for spec in resource["fields"]:
                spec["mask"] = None
    return Catalog.model_validate(raw)


def granted(grant: FakeGrant, **changes: object) -> FakeGrant:
    return replace(grant, **changes)  # type: ignore[arg-type]
