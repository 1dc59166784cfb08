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
from starlette.exceptions import HTTPException as StarletteHTTPException

from govbus import GovbusError, error_location

REGISTRY_TAG = "schema-registry"
REGISTRY_MEDIA_TYPE = "application/vnd.schemaregistry.v1+json"
_log = structlog.get_logger("gateway")

# HTTP status -> Confluent error code, for errors raised outside the registry's own code.
_CONFLUENT_CODES = {401: 40101, 403: 40301, 404: 404, 405: 405, 422: 42201}


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
    request: Request, status: int, code: str | int, message: str, *, registry: bool | None = None
) -> JSONResponse:
    """`registry` None: the route's tag decides (pass it when no route was matched yet)."""
    registry = _is_registry(request) if registry is None else registry
    if registry and isinstance(code, str):
        code = _CONFLUENT_CODES.get(status, status * 100 + 1)
    return JSONResponse(
        {"error_code": code, "message": message},
        status_code=status,
        media_type=REGISTRY_MEDIA_TYPE if registry else "application/json",
        headers={"WWW-Authenticate": 'Basic realm="govbus", Bearer'} if status == 401 else None,
    )


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
    codes: dict[int, str] = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
    return error_response(
        request, exc.status_code, codes.get(exc.status_code, "HTTP_ERROR"), str(exc.detail)
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    _log.error("unhandled error", path=request.url.path, error_type=type(exc).__name__)
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
