"""Who may read which part of the audit log, and one page of it.

An admin reads everything; a provider reads the entries about the resources its department
provides (who accessed them, which fields, how many records); anyone else is refused.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from govbus import Catalog
from govbus.gateway._auth import Principal
from govbus.gateway._errors import ApiError
from govbus.gateway.audit._chain import ChainEntry, format_at
from govbus.gateway.audit._store import AuditStore

MAX_PAGE = 1000


class AuditPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    entries: list[ChainEntry]
    next_after: int | None = Field(
        description="pass as `after` for the next page; null when this is the last page"
    )


def readable_resources(principal: Principal, catalog: Catalog) -> set[str] | None:
    """The resource codes whose entries `principal` may read; None: all of them."""
    if principal.has_role("admin"):
        return None
    if principal.has_role("provider") and principal.department:
        return {r.code for r in catalog.resources if r.provider == principal.department}
    raise ApiError(403, "FORBIDDEN", "the audit log is open to providers and admins only")


def audit_page(
    store: AuditStore,
    principal: Principal,
    catalog: Catalog,
    *,
    resource: str | None,
    since: datetime | None,
    after: int,
    limit: int,
) -> AuditPage:
    readable = readable_resources(principal, catalog)
    wanted = readable
    if resource is not None:
        if readable is not None and resource not in readable:
            # The catalog is public, so naming the refusal reveals nothing; the value is not echoed.
            raise ApiError(
                403, "NOT_PROVIDER", "the caller's department does not provide this resource"
            )
        wanted = {resource}
    found = store.search(
        resources=wanted,
        since=format_at(since) if since is not None else None,
        after=after,
        limit=limit + 1,
    )
    page = found[:limit]
    return AuditPage(entries=page, next_after=page[-1].seq if len(found) > limit else None)
