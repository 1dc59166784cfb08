"""Stable error codes shared by every role.

Messages name the resource, field or file that was wrong, never a personal value.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    INVALID_IDENTIFIER = "INVALID_IDENTIFIER"
    NOT_AUTHORITATIVE = "NOT_AUTHORITATIVE"
    SCHEMA_MISMATCH = "SCHEMA_MISMATCH"
    UNKNOWN_RESOURCE = "UNKNOWN_RESOURCE"
    UNKNOWN_DEPARTMENT = "UNKNOWN_DEPARTMENT"
    UNKNOWN_FIELD = "UNKNOWN_FIELD"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    BROKER_UNAVAILABLE = "BROKER_UNAVAILABLE"
    MALFORMED_PAYLOAD = "MALFORMED_PAYLOAD"
    UNKNOWN_SCHEMA = "UNKNOWN_SCHEMA"
    WRONG_TOPIC = "WRONG_TOPIC"
    MISSING_HEADERS = "MISSING_HEADERS"
    INVALID_CATALOG = "INVALID_CATALOG"
    INVALID_SCHEMA = "INVALID_SCHEMA"
    INCOMPATIBLE_SCHEMA = "INCOMPATIBLE_SCHEMA"
    UNKNOWN_SUBJECT = "UNKNOWN_SUBJECT"
    STALE_UPDATE = "STALE_UPDATE"
    DELIVERY_FAILED = "DELIVERY_FAILED"
    REGISTRY_ERROR = "REGISTRY_ERROR"
    TOPIC_REPLACED = "TOPIC_REPLACED"
    UNSTORABLE_TEXT = "UNSTORABLE_TEXT"
    # The command line and its settings.
    USAGE = "USAGE"
    INVALID_SETTING = "INVALID_SETTING"
    INVALID_STORE_URL = "INVALID_STORE_URL"
    STORE_NOT_FOUND = "STORE_NOT_FOUND"
    STORE_UNAVAILABLE = "STORE_UNAVAILABLE"
    KAFKA_ERROR = "KAFKA_ERROR"
    LAUNCH_FAILED = "LAUNCH_FAILED"
    STORE_REFUSED = "STORE_REFUSED"
    STORE_FAILED = "STORE_FAILED"


class GovbusError(Exception):
    """A refusal with a stable machine-readable code.

    `field` and `details` must never carry personal data: name fields, not values.
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        field: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.details = details or {}

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": str(self.code), "message": self.message}
        if self.field is not None:
            out["field"] = self.field
        if self.details:
            out["details"] = self.details
        return out


_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def error_location(loc: Sequence[int | str]) -> str:
    """A pydantic error's `loc` as `a.b.0.c`, without echoing keys a caller made up.

    Model field names and list indexes are shown; a dict key or an unknown field is shown
    only when shaped like a field name, so a personal value sent as a key (an identity
    number, a name) never reaches an error message or a log line.
    """
    return ".".join(
        str(part) if isinstance(part, int) or _FIELD_NAME.fullmatch(part) else "<key>"
        for part in loc
    )


def schema_mismatch(exc: Exception, what: str) -> GovbusError:
    """A pydantic ValidationError as SCHEMA_MISMATCH, naming fields but never input values.

    A str pydantic cannot read as Unicode (a lone surrogate, in a constrained field) is
    UNSTORABLE_TEXT, the code the same text gets in any other field.
    """
    errors = getattr(exc, "errors", None)
    problems: list[str] = []
    if callable(errors):
        for err in errors(include_input=False, include_url=False):
            loc = error_location(err["loc"]) or what
            if err["type"] == "string_unicode":
                return GovbusError(
                    ErrorCode.UNSTORABLE_TEXT,
                    f"{loc} holds a lone surrogate (U+D800 to U+DFFF), which the base "
                    "store's text cannot hold",
                    field=loc,
                )
            problems.append(f"{loc}: {err['msg']}")
    else:
        problems.append(type(exc).__name__)
    first = problems[0].split(":", 1)[0] if problems else None
    return GovbusError(
        ErrorCode.SCHEMA_MISMATCH,
        f"{what} does not match its schema: " + "; ".join(problems),
        field=first,
        details={"problems": problems},
    )
