"""Bodies and answers of the lookup and claim-check API. No answer carries a value that
the caller's grant does not deliver; claim answers carry no value at all."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

MAX_BATCH = 100
# A body may list more keys (it is refused by code, 422 BATCH_TOO_LARGE); the cap bounds parsing.
_PARSED_KEYS = 10 * MAX_BATCH


class FieldValue(BaseModel):
    """One delivered field: its text as the grant lets it out, and where it came from."""

    value: str | None  # None: no value stored
    disclosure: Literal["shown", "masked"]
    source_department: str | None  # the authoritative department that last set it
    changed_at: datetime | None  # when it changed at the source (the event's time)
    applied_at: datetime | None  # when the base store applied that change


class LookupAnswer(BaseModel):
    resource: str
    key: str  # masked as the grant says
    fields: dict[str, FieldValue]


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: list[StrictStr] = Field(min_length=1, max_length=_PARSED_KEYS)


class BatchAnswer(BaseModel):
    """One entry per requested key, in order; null for a key that is unknown or not visible
    (the two are not told apart)."""

    records: list[LookupAnswer | None]


ClaimValue = StrictStr | StrictBool | None


class ClaimAnswer(BaseModel):
    resource: str
    claims: dict[str, bool]  # claim name -> whether the store agrees; never a value


class CertificateCheck(BaseModel):
    """By `number` (`<licence type>:<number>`, or a bare number under every granted type), by
    `licence_type` and `number`, or by `licence_type` and `holder_id` (a person's identity
    number or an entity's USCC)."""

    model_config = ConfigDict(extra="forbid")

    number: StrictStr | None = Field(default=None, min_length=1, max_length=200)
    licence_type: StrictStr | None = Field(default=None, min_length=1, max_length=64)
    holder_id: StrictStr | None = Field(default=None, min_length=1, max_length=64)


Verdict = Literal[
    "valid",
    "expired",
    "revoked",
    "suspended",
    "cancelled",
    "not_yet_valid",
    "holder_unknown",
    "not_found",
]


class CertificateAnswer(BaseModel):
    """Valid or not, and why not; no field of the certificate."""

    resource: str | None  # None when a bare number was found under no granted type
    valid: bool
    reason: Verdict
