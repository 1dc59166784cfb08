"""The gateway's door: authenticate and rate-limit every request before its body is read.

FastAPI reads and parses a body before it runs a route's dependencies, so an unauthenticated
20 MB body would be read whole before its 401. This ASGI middleware answers 401 (missing,
bad, expired or revoked credentials) or 429 (with Retry-After) from the headers alone, and
leaves the principal in the request state for `current_principal`. Failures are counted per
client address (an address over its budget is refused before its secrets are checked);
authenticated requests per principal. Password checks (scrypt) wait on threads of their
own, so a flood of them cannot hold every worker thread while tokens wait behind it.
"""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from govbus.gateway._auth import (
    REFUSED,
    UNAUTHENTICATED,
    authenticate_header,
    checks_a_password,
)
from govbus.gateway._errors import error_response
from govbus.gateway._rate_limit import RateLimiter

PUBLIC_PATHS = frozenset({"/healthz", "/openapi.json"})
REGISTRY_PATHS = ("/subjects", "/schemas", "/config", "/compatibility", "/mode")


class AuthGuard:
    def __init__(self, app: ASGIApp, per_principal: RateLimiter, failures: RateLimiter) -> None:
        self.app = app
        self.per_principal = per_principal
        self.failures = failures
        self._limiters: dict[bool, anyio.CapacityLimiter] = {}  # made in the event loop

    def _limiter(self, password: bool) -> anyio.CapacityLimiter:
        if password not in self._limiters:
            self._limiters[password] = anyio.CapacityLimiter(4 if password else 16)
        return self._limiters[password]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        header = _header(scope, b"authorization")
        if header is None:
            await self._refuse(scope, receive, send, 401, "UNAUTHENTICATED", UNAUTHENTICATED)
            return
        if wait := self.failures.blocked_for(address):
            await self._too_many(scope, receive, send, wait)
            return
        gateway = scope["app"]
        principal = await anyio.to_thread.run_sync(
            authenticate_header,
            gateway.state.principals,
            header,
            limiter=self._limiter(checks_a_password(header)),
        )
        if principal is None:
            self.failures.take(address)
            await self._refuse(scope, receive, send, 401, "UNAUTHENTICATED", REFUSED)
            return
        if wait := self.per_principal.take(principal.name):
            await self._too_many(scope, receive, send, wait)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    async def _too_many(self, scope: Scope, receive: Receive, send: Send, wait: int) -> None:
        await self._refuse(
            scope, receive, send, 429, "RATE_LIMITED", f"too many requests; retry in {wait} s",
            {"Retry-After": str(wait)},
        )  # fmt: skip

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        # Before routing, the path tells the registry (Confluent's numeric codes) apart.
        registry = scope["path"].startswith(REGISTRY_PATHS)
        response = error_response(Request(scope), status, code, message, registry=registry)
        response.headers.update(headers or {})
        response.headers["Connection"] = "close"  # the unread body is not waited for
        await response(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None
