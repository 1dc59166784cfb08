"""`GET /v1/audit`: a provider's view of who accessed its resources; an admin's of everything."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from govbus import Catalog
from govbus.gateway._auth import Principal, current_principal
from govbus.gateway.audit._log import ChainedAuditLog
from govbus.gateway.audit._service import MAX_PAGE, AuditPage, audit_page

audit_router = APIRouter(tags=["audit"])


@audit_router.get(
    "/v1/audit",
    response_model=AuditPage,
    responses={401: {"description": "not authenticated"}, 403: {"description": "not allowed"}},
)
def list_audit(
    request: Request,
    principal: Annotated[Principal, Depends(current_principal)],
    resource: Annotated[str | None, Query(max_length=200, description="a resource code")] = None,
    since: Annotated[datetime | None, Query(description="at or after (ISO 8601)")] = None,
    after: Annotated[int, Query(ge=0, le=2**62, description="the seq to continue after")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> AuditPage:
    log: ChainedAuditLog = request.app.state.audit
    catalog: Catalog = request.app.state.catalog  # loaded once, in create_app
    return audit_page(
        log.store, principal, catalog, resource=resource, since=since, after=after, limit=limit
    )
