"""Lookup and claim-check routes. All need the subscriber role and an active grant; the
service decides what leaves. The access log records these routes' templates only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request

from govbus import EntityKind
from govbus.gateway._auth import Principal, require_role
from govbus.gateway._errors import error_responses
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


def _service(request: Request) -> LookupService:
    service: LookupService = request.app.state.lookups
    return service


@lookups_router.get("/persons/{id_number}", responses=_LOOKUP)
def get_person(id_number: Key, request: Request, principal: Principal = subscriber) -> LookupAnswer:
    """The person's granted fields, masked as granted, with their provenance."""
    return _service(request).lookup(principal, EntityKind.PERSON, id_number)


@lookups_router.get("/legal-entities/{uscc}", responses=_LOOKUP)
def get_legal_entity(
    uscc: Key, request: Request, principal: Principal = subscriber
) -> LookupAnswer:
    return _service(request).lookup(principal, EntityKind.LEGAL_ENTITY, uscc)


@lookups_router.get("/certificates/{licence_type}/{number}", responses=_LOOKUP)
def get_certificate(
    licence_type: Key, number: Key, request: Request, principal: Principal = subscriber
) -> LookupAnswer:
    return _service(request).lookup(principal, EntityKind.CERTIFICATE, f"{licence_type}:{number}")


@lookups_router.post("/persons:batchGet", responses=_LOOKUP)
def batch_persons(
    body: BatchRequest, request: Request, principal: Principal = subscriber
) -> BatchAnswer:
    """Up to 100 identity numbers; null for each key unknown or not visible."""
    return _service(request).lookup_many(principal, EntityKind.PERSON, body.keys)


@lookups_router.post("/legal-entities:batchGet", responses=_LOOKUP)
def batch_legal_entities(
    body: BatchRequest, request: Request, principal: Principal = subscriber
) -> BatchAnswer:
    return _service(request).lookup_many(principal, EntityKind.LEGAL_ENTITY, body.keys)


@lookups_router.post("/certificates:batchGet", responses=_LOOKUP)
def batch_certificates(
    body: BatchRequest, request: Request, principal: Principal = subscriber
) -> BatchAnswer:
    """Keys `<licence type code>:<licence number>`."""
    return _service(request).lookup_many(principal, EntityKind.CERTIFICATE, body.keys)


@lookups_router.post("/persons/{id_number}/verify", responses=_LOOKUP)
def verify_person(
    id_number: Key, claims: Claims, request: Request, principal: Principal = subscriber
) -> ClaimAnswer:
    """Each claim true or false, e.g. `{"marital_status": "20", "alive": true}`; no value."""
    return _service(request).verify_claims(principal, EntityKind.PERSON, id_number, claims)


@lookups_router.post("/legal-entities/{uscc}/verify", responses=_LOOKUP)
def verify_legal_entity(
    uscc: Key, claims: Claims, request: Request, principal: Principal = subscriber
) -> ClaimAnswer:
    return _service(request).verify_claims(principal, EntityKind.LEGAL_ENTITY, uscc, claims)


@lookups_router.post("/certificates/verify", responses=_LOOKUP)
def verify_certificate(
    body: CertificateCheck, request: Request, principal: Principal = subscriber
) -> CertificateAnswer:
    """Valid or not, and why not (expired, revoked, suspended, holder unknown ...)."""
    return _service(request).verify_certificate(principal, body)
