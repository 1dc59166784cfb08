"""The OpenAPI document: security schemes (HTTP Basic, Bearer) on every operation."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

SECURITY_SCHEMES = {
    "basicAuth": {"type": "http", "scheme": "basic", "description": "principal name and secret"},
    "bearerAuth": {"type": "http", "scheme": "bearer", "description": "`<name>.<secret>`"},
}


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
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
