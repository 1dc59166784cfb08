"""The OpenAPI document: security schemes (HTTP Basic, Bearer) on every operation, and the
refusals every route shares.

401, 422 and 429 are declared app-wide (`create_app`); here each operation that takes a body
also gets 413 (the body caps) and each with a path parameter 404, in the operation's own
media type. A route declares the rest itself (403, 409, ...) with `error_responses`.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

SECURITY_SCHEMES = {
    "basicAuth": {"type": "http", "scheme": "basic", "description": "principal name and secret"},
    "bearerAuth": {"type": "http", "scheme": "bearer", "description": "`<name>.<secret>`"},
}
_DERIVED = {
    "413": "Request body over this route's size cap (PAYLOAD_TOO_LARGE)",
    "404": "Not found, or not visible to this principal",
}


def _add_shared_refusals(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    template = responses.get("422")
    if template is None:
        return
    wanted = []
    if "requestBody" in operation:
        wanted.append("413")
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        wanted.append("404")
    for status in wanted:
        if status not in responses:
            responses[status] = {**copy.deepcopy(template), "description": _DERIVED[status]}


def install_openapi(app: FastAPI) -> None:
    """Every documented route needs a principal (the auth dependencies read the header
    themselves, so FastAPI cannot see the schemes): declared once, for all operations."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, routes=app.routes, description=app.description
            )
            document.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
            document["security"] = [{"basicAuth": []}, {"bearerAuth": []}]
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    _add_shared_refusals(operation)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
