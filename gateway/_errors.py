"""Every refusal is a 4xx JSON body `{"error_code": ..., "message": ...}`, never a stack trace.

Schema-registry routes (tagged `schema-registry`) use Confluent's numeric codes, because
confluent-kafka's client reads them; the rest of the API uses govbus's string codes.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from govbus import GovbusError, error_location

REGISTRY_TAG = "schema-registry"
REGISTRY_MEDIA_TYPE = "application/vnd.schemaregistry.v1+json"
_log = structlog.get_logger("gateway")

# HTTP status -> Confluent error code, for errors raised outside the registry's own code.
_CONFLUENT_CODES = {401: 40101, 403: 40301, 404: 404, 405: 405, 413: 41301, 422: 42201, 429: 42901}
_HTTP_CODES = {
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    429: "RATE_LIMITED",
}


class ErrorBody(BaseModel):
    """Every 4xx body: a govbus string code, or Confluent's number on registry routes."""

    error_code: str | int
    message: str


_STATUS_TEXT = {
    401: "Missing, malformed, wrong or expired credentials (UNAUTHENTICATED)",
    403: "The principal lacks the role or grant; the message names what is missing",
    404: "Not found, or not visible to this principal",
    409: "Conflict: an incompatible schema or a bad state transition",
    413: "Request body over this route's size cap (PAYLOAD_TOO_LARGE)",
    422: "Malformed request: body, path or query (a machine-readable code)",
    429: "Too many requests for this principal; retry after `Retry-After` seconds",
    502: "The broker refused the events (none was sent; retry with the same event ids)",
    503: "The broker did not acknowledge in time (BROKER_UNAVAILABLE)",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}}},
    429: {"Retry-After": {"schema": {"type": "integer"}}},
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the refusals a route can give (in the route's media type)."""
    return {
        status: {
            "model": ErrorBody,
            "description": _STATUS_TEXT[status],
            **({"headers": _HEADERS[status]} if status in _HEADERS else {}),
        }
        for status in statuses
    }


class ApiError(Exception):
    """An HTTP refusal with a machine-readable code (a govbus string or a Confluent number)."""

    def __init__(self, status: int, error_code: str | int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message


def _is_registry(request: Request) -> bool:
    route = request.scope.get("route")
    return REGISTRY_TAG in (getattr(route, "tags", None) or [])


def error_response(
    request: Request,
    status: int,
    code: str | int,
    message: str,
    headers: dict[str, str] | None = None,
    *,
    registry: bool | None = None,
) -> JSONResponse:
    """`registry` None: the route's tag decides (pass it when no route was matched yet)."""
    registry = _is_registry(request) if registry is None else registry
    if registry and isinstance(code, str):
        code = _CONFLUENT_CODES.get(status, status * 100 + 1)
    extra = dict(headers or {})
    if status == 401:
        extra["WWW-Authenticate"] = 'Basic realm="govbus", Bearer'
    return JSONResponse(
        {"error_code": code, "message": message},
        status_code=status,
        media_type=REGISTRY_MEDIA_TYPE if registry else "application/json",
        headers=extra or None,
    )


def allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    table = getattr(request.app.state, "routes", None)
    return ", ".join(sorted(table.allowed(request.url.path))) if table is not None else ""


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(request, exc.status, exc.error_code, exc.message)


async def _govbus_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GovbusError)
    return error_response(request, 422, str(exc.code), exc.message)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Name where the problem is, never the submitted value (it may be personal data).
    problems = [
        f"{error_location(err.get('loc', ()))}: {err.get('msg', 'invalid')}" for err in exc.errors()
    ]
    return error_response(request, 422, "INVALID_REQUEST", "; ".join(problems) or "invalid")


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    message = str(exc.detail)
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request) or headers.get("Allow", "")
        message = f"method not allowed here (allowed: {headers['Allow']})"
    elif exc.status_code == 404:
        message = "no such route"  # Starlette's detail is fixed, but never echo the path
    elif exc.status_code == 400:  # FastAPI's "error parsing the body": a malformed body
        return error_response(request, 422, "INVALID_REQUEST", "body: not valid UTF-8 JSON")
    code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
    return error_response(request, exc.status_code, code, message, headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The route's template, not the path: a path may carry a personal value.
    route = getattr(request.scope.get("route"), "path", "(no route)")
    _log.error("unhandled error", route=route, error_type=type(exc).__name__)
    code: str | int = 50001 if _is_registry(request) else "INTERNAL_ERROR"
    return JSONResponse(
        {"error_code": code, "message": "internal error"},
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    handlers: dict[Any, Any] = {
        ApiError: _api_error,
        GovbusError: _govbus_error,
        RequestValidationError: _validation_error,
        StarletteHTTPException: _http_error,
        Exception: _unexpected,
    }
    for exc_type, handler in handlers.items():
        app.add_exception_handler(exc_type, handler)
