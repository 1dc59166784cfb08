"""Body size caps by path prefix, counted as the body streams in.

A declared Content-Length over the cap is refused before anything is read; a body that is
chunked, or longer than it declared, is refused as soon as the count passes the cap. The
refusal is an HTTPException(413) raised from `receive`, so the app's own error handlers
answer it (with the registry's Confluent code on registry routes).
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

KIB = 1024
MIB = 1024 * KIB
# (path prefix, cap in bytes): the longest matching prefix wins; "" is the default.
BODY_LIMITS: tuple[tuple[str, int], ...] = (
    ("", 64 * KIB),
    ("/subjects", 1 * MIB),  # Avro schemas: the shipped ones are a few KiB
    ("/compatibility", 1 * MIB),
    ("/config", 4 * KIB),
    ("/v1/events", 4 * MIB),  # up to 1000 events of a few KiB
)


def body_limit(path: str, limits: Sequence[tuple[str, int]] = BODY_LIMITS) -> int:
    matching = [(len(prefix), cap) for prefix, cap in limits if path.startswith(prefix)]
    return max(matching)[1] if matching else min(cap for _p, cap in limits)


def too_large(cap: int) -> HTTPException:
    return HTTPException(413, f"request body larger than {cap} bytes for this route")


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isascii() and text.isdigit() and len(text) < 20 else None
    return None


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, limits: Sequence[tuple[str, int]] = BODY_LIMITS) -> None:
        self.app = app
        self.limits = tuple(limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = body_limit(scope["path"], self.limits)
        declared = _declared_length(scope)
        received = 0

        async def counted() -> Message:
            nonlocal received
            if declared is not None and declared > cap:
                raise too_large(cap)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise too_large(cap)
            return message

        await self.app(scope, counted, send)
