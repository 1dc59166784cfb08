"""Principals and their tokens, as stored and as the admin API shows them (never a secret)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from govbus.gateway._auth import Principal, Role

Kind = Literal["department", "service", "operator", "admin"]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"


class PrincipalRecord(BaseModel):
    """A department, one of its services, an operator or an admin of the platform."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: Kind
    department: str | None
    roles: frozenset[Role]
    kafka_user: str | None  # its SASL/SCRAM user on the secured broker, when it has one
    created_at: datetime
    disabled_at: datetime | None = None

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None

    def principal(self) -> Principal:
        return Principal(name=self.name, department=self.department, roles=self.roles)


class TokenRecord(BaseModel):
    """What is known of a token: its id and dates. Its value was shown once, then forgotten."""

    model_config = ConfigDict(frozen=True)

    token_id: str
    principal: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    def usable_at(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


class IssuedToken(BaseModel):
    """A new token: `token` is in this answer only."""

    token_id: str
    principal: str
    token: str
    expires_at: datetime | None = None


class CreatedPrincipal(BaseModel):
    """A new principal; `kafka_password` (its SCRAM password) is in this answer only."""

    principal: PrincipalRecord
    kafka_password: str | None = None


class PrincipalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    roles: frozenset[Role] = Field(min_length=1)
    department: str | None = Field(default=None, pattern=r"^[A-Z0-9_]{1,32}$")
    kind: Kind | None = None
    kafka: bool | None = None  # a SCRAM user: by default for departments on a secured broker


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expires_at: datetime | None = None
