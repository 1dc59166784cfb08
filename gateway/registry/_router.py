"""The Confluent Schema Registry REST API that confluent-kafka's SchemaRegistryClient uses.

Reads need any authenticated principal; writes need the admin role.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from govbus.gateway._auth import Principal, current_principal, require_role
from govbus.gateway._errors import REGISTRY_MEDIA_TYPE, REGISTRY_TAG, error_responses
from govbus.gateway.registry import _codes, _service
from govbus.gateway.registry._models import ConfigRequest, SchemaRequest
from govbus.gateway.registry._store import GLOBAL, RegistryStore


class RegistryResponse(JSONResponse):
    media_type = REGISTRY_MEDIA_TYPE


def subject_path(subject: str, _: Principal = Depends(current_principal)) -> str:  # noqa: B008
    """The path's subject in NFC; control and format characters are 42208 (INVALID_SUBJECT).

    Authenticates first (FastAPI caches the principal for the route's own dependency), so an
    anonymous caller gets 401 whatever the subject."""
    return _service.subject_name(subject)


Subject = Annotated[str, Depends(subject_path)]

registry_router = APIRouter(
    tags=[REGISTRY_TAG],
    default_response_class=RegistryResponse,
)
reader = Depends(current_principal)
admin = Depends(require_role("admin"))
WRITE = error_responses(403, 409)


def _store(request: Request) -> RegistryStore:
    store: RegistryStore = request.app.state.registry
    return store


def _reject_references(body: SchemaRequest) -> None:
    if body.references:
        raise _codes.invalid_schema("schema references are not supported")


@registry_router.post("/subjects/{subject}/versions", responses=WRITE)
def register_version(
    subject: Subject, body: SchemaRequest, request: Request, _: Principal = admin
) -> dict[str, Any]:
    _reject_references(body)
    registered = _service.register(_store(request), subject, body.schema_text, body.schema_type)
    return {"id": registered.schema_id}


@registry_router.post("/subjects/{subject}")
def lookup_schema(
    subject: Subject, body: SchemaRequest, request: Request, _: Principal = reader
) -> dict[str, Any]:
    _reject_references(body)
    found = _service.lookup(_store(request), subject, body.schema_text, body.schema_type)
    return {
        "subject": subject,
        "id": found.schema_id,
        "version": found.version,
        "schema": found.schema_text,
    }


@registry_router.get("/schemas/ids/{schema_id}")
def schema_by_id(schema_id: int, request: Request, _: Principal = reader) -> dict[str, Any]:
    stored = _store(request).schema(schema_id)
    if stored is None:
        raise _codes.schema_not_found("with this id")
    return {"schema": stored.schema_text}


@registry_router.get("/schemas/ids/{schema_id}/versions")
def versions_of_schema(
    schema_id: int, request: Request, _: Principal = reader
) -> list[dict[str, Any]]:
    store = _store(request)
    if store.schema(schema_id) is None:
        raise _codes.schema_not_found("with this id")
    return [{"subject": s, "version": v} for s, v in store.usages(schema_id)]


@registry_router.get("/schemas/ids/{schema_id}/subjects")
def subjects_of_schema(schema_id: int, request: Request, _: Principal = reader) -> list[str]:
    store = _store(request)
    if store.schema(schema_id) is None:
        raise _codes.schema_not_found("with this id")
    return sorted({s for s, _v in store.usages(schema_id)})


@registry_router.get("/schemas/types")
def schema_types(_: Principal = reader) -> list[str]:
    return ["AVRO"]


@registry_router.get("/subjects")
def list_subjects(request: Request, _: Principal = reader) -> list[str]:
    return _store(request).subjects()


@registry_router.get("/subjects/{subject}/versions")
def list_versions(subject: Subject, request: Request, _: Principal = reader) -> list[int]:
    versions = _store(request).versions(subject)
    if not versions:
        raise _codes.subject_not_found()
    return [v.version for v in versions]


@registry_router.get("/subjects/{subject}/versions/{version}")
def get_version(
    subject: Subject, version: str, request: Request, _: Principal = reader
) -> dict[str, Any]:
    found = _service.find_version(_store(request), subject, version)
    return {
        "subject": subject,
        "version": found.version,
        "id": found.schema_id,
        "schema": found.schema_text,
    }


@registry_router.get("/subjects/{subject}/versions/{version}/schema")
def get_version_schema(
    subject: Subject, version: str, request: Request, _: Principal = reader
) -> PlainTextResponse:
    found = _service.find_version(_store(request), subject, version)
    return PlainTextResponse(found.schema_text, media_type=REGISTRY_MEDIA_TYPE)


def _compatibility_result(problems: list[str], verbose: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"is_compatible": not problems}
    if verbose:
        result["messages"] = problems
    return result


@registry_router.post("/compatibility/subjects/{subject}/versions/{version}")
def check_against_version(
    subject: Subject,
    version: str,
    body: SchemaRequest,
    request: Request,
    verbose: bool = Query(default=False),
    _: Principal = reader,
) -> dict[str, Any]:
    """Against one version (or the latest), in the direction of the subject's level."""
    _reject_references(body)
    store = _store(request)
    candidate = _service.parse_schema_text(body.schema_text, body.schema_type)
    target = _service.find_version(store, subject, version)
    level = _service.non_transitive(_service.effective_level(store, subject))
    problems = _service.incompatibilities(candidate, [target], level)
    return _compatibility_result(problems, verbose)


@registry_router.post("/compatibility/subjects/{subject}/versions")
def check_against_subject(
    subject: Subject,
    body: SchemaRequest,
    request: Request,
    verbose: bool = Query(default=False),
    _: Principal = reader,
) -> dict[str, Any]:
    """Against the versions the subject's level names (all of them when transitive)."""
    _reject_references(body)
    store = _store(request)
    candidate = _service.parse_schema_text(body.schema_text, body.schema_type)
    versions = store.versions(subject)
    if not versions:
        raise _codes.subject_not_found()
    level = _service.effective_level(store, subject)
    return _compatibility_result(_service.incompatibilities(candidate, versions, level), verbose)


@registry_router.get("/config")
def get_global_config(request: Request, _: Principal = reader) -> dict[str, Any]:
    level = _store(request).compatibility(GLOBAL) or _service.DEFAULT_COMPATIBILITY
    return {"compatibilityLevel": str(level)}


@registry_router.put("/config", responses=error_responses(403))
def put_global_config(
    body: ConfigRequest, request: Request, _: Principal = admin
) -> dict[str, Any]:
    level = _service.parse_level(body.compatibility)
    _store(request).set_compatibility(str(level))
    return {"compatibility": str(level)}


@registry_router.get("/config/{subject}")
def get_subject_config(
    subject: Subject,
    request: Request,
    default_to_global: bool = Query(default=False, alias="defaultToGlobal"),
    _: Principal = reader,
) -> dict[str, Any]:
    store = _store(request)
    level = store.compatibility(subject)
    if level is None and default_to_global:
        level = str(_service.effective_level(store, subject))
    if level is None:
        raise _codes.subject_config_not_found()
    return {"compatibilityLevel": level}


@registry_router.put("/config/{subject}", responses=error_responses(403))
def put_subject_config(
    subject: Subject, body: ConfigRequest, request: Request, _: Principal = admin
) -> dict[str, Any]:
    level = _service.parse_level(body.compatibility)
    _store(request).set_compatibility(str(level), subject)
    return {"compatibility": str(level)}
