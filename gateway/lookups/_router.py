"""Lookup and claim-check routes. All need the subscriber role and an active grant; the
service decides what leaves. The access log records these routes' templates only.

The service's work (a grant query, one store read) runs on the event loop when both
databases are local SQLite files (a read of a few indexed rows, no network), else in the
thread pool (a PostgreSQL server slow to answer must not stall the whole gateway). Its audit
records are then awaited in a group commit (`GroupCommit.append_async`) that holds no
thread: a thread per request waiting for its commit, contending for the GIL, was the
bottleneck, and the thread hop itself costs about 1.7x in throughput here
(docs/benchmarks.md, "Lookups").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import APIRouter, Body, Depends, Path, Request

from govbus import EntityKind
from govbus.gateway._auth import Principal, require_role
from govbus.gateway._errors import error_responses
from govbus.gateway.audit import AuditRecord, GroupCommit
from govbus.gateway.lookups._models import (
    BatchAnswer,
    BatchRequest,
    CertificateAnswer,
    CertificateCheck,
    ClaimAnswer,
    ClaimValue,
    LookupAnswer,
)
from govbus.gateway.lookups._service import LookupService

_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"description": "the base store cannot be read now (STORE_UNAVAILABLE)"}
}
_LOOKUP: dict[int | str, dict[str, Any]] = {**error_responses(403, 404), **_UNAVAILABLE}

lookups_router = APIRouter(prefix="/v1", tags=["lookups"])
subscriber = Depends(require_role("subscriber"))
# Path values are personal: they are checked by the service and never echoed.
Key = Annotated[str, Path(max_length=200)]
Claims = Annotated[dict[str, ClaimValue], Body(min_length=1, max_length=50)]


T = TypeVar("T")


async def _audited(request: Request, work: Callable[[LookupService], T]) -> T:
    """`work`'s answer (or refusal), once its audit records are committed."""
    service: LookupService = request.app.state.lookups
    group: GroupCommit = request.app.state.lookup_audit
    collected: list[AuditRecord] = []

    def run() -> T:
        with service.collecting_audit() as records:
            try:
                return work(service)
            finally:
                collected.extend(records)

    try:
        return run() if service.on_event_loop else await anyio.to_thread.run_sync(run)
    finally:
        await group.append_async(collected)


@lookups_router.get("/persons/{id_number}", responses=_LOOKUP)
async def get_person(
    id_number: Key, request: Request, principal: Principal = subscriber
) -> LookupAnswer:
    """The person's granted fields, masked as granted, with their provenance."""
    return await _audited(request, lambda s: s.lookup(principal, EntityKind.PERSON, id_number))


@lookups_router.get("/legal-entities/{uscc}", responses=_LOOKUP)
async def get_legal_entity(
    uscc: Key, request: Request, principal: Principal = subscriber
) -> LookupAnswer:
    return await _audited(request, lambda s: s.lookup(principal, EntityKind.LEGAL_ENTITY, uscc))


@lookups_router.get("/certificates/{licence_type}/{number}", responses=_LOOKUP)
async def get_certificate(
    licence_type: Key, number: Key, request: Request, principal: Principal = subscriber
) -> LookupAnswer:
    return await _audited(
        request, lambda s: s.lookup(principal, EntityKind.CERTIFICATE, f"{licence_type}:{number}")
    )


@lookups_router.post("/persons:batchGet", responses=_LOOKUP)
async def batch_persons(
    body: BatchRequest, request: Request, principal: Principal = subscriber
) -> BatchAnswer:
    """Up to 100 identity numbers; null for each key unknown or not visible."""
    return await _audited(request, lambda s: s.lookup_many(principal, EntityKind.PERSON, body.keys))


@lookups_router.post("/legal-entities:batchGet", responses=_LOOKUP)
async def batch_legal_entities(
    body: BatchRequest, request: Request, principal: Principal = subscriber
) -> BatchAnswer:
    return await _audited(
        request, lambda s: s.lookup_many(principal, EntityKind.LEGAL_ENTITY, body.keys)
    )


@lookups_router.post("/certificates:batchGet", responses=_LOOKUP)
async def batch_certificates(
    body: BatchRequest, request: Request, principal: Principal = subscriber
) -> BatchAnswer:
    """Keys `<licence type code>:<licence number>`."""
    return await _audited(
        request, lambda s: s.lookup_many(principal, EntityKind.CERTIFICATE, body.keys)
    )


@lookups_router.post("/persons/{id_number}/verify", responses=_LOOKUP)
async def verify_person(
    id_number: Key, claims: Claims, request: Request, principal: Principal = subscriber
) -> ClaimAnswer:
    """Each claim true or false, e.g. `{"marital_status": "20", "alive": true}`; no value."""
    return await _audited(
        request, lambda s: s.verify_claims(principal, EntityKind.PERSON, id_number, claims)
    )


@lookups_router.post("/legal-entities/{uscc}/verify", responses=_LOOKUP)
async def verify_legal_entity(
    uscc: Key, claims: Claims, request: Request, principal: Principal = subscriber
) -> ClaimAnswer:
    return await _audited(
        request, lambda s: s.verify_claims(principal, EntityKind.LEGAL_ENTITY, uscc, claims)
    )


@lookups_router.post("/certificates/verify", responses=_LOOKUP)
async def verify_certificate(
    body: CertificateCheck, request: Request, principal: Principal = subscriber
) -> CertificateAnswer:
    """Valid or not, and why not (expired, revoked, suspended, holder unknown ...)."""
    return await _audited(request, lambda s: s.verify_certificate(principal, body))
