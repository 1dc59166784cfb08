"""Who is calling: departments, services and operators, by Bearer token or HTTP Basic.

The principals live in the gateway database (govbus.gateway.principals); the credentials
file (GOVBUS_GATEWAY_CREDENTIALS, salted scrypt hashes) only bootstraps an empty one.
A Bearer token is a `gbt_<id>_<secret>` API token. HTTP Basic is what confluent-kafka's
SchemaRegistryClient sends (`basic.auth.user.info`): `name:token`, or `name:password` for a
principal imported from the credentials file. `Bearer name.password` is still accepted.
The guard middleware authenticates before the body is read; these dependencies read its
verdict (and authenticate themselves in an app without the guard).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Literal, Protocol

import yaml
from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from govbus.gateway._errors import ApiError
from govbus.gateway._passwords import PasswordChecker, hash_password, scrypt_matches

Role = Literal["admin", "provider", "subscriber", "operator"]
hash_secret = hash_password
verify_secret = scrypt_matches
UNAUTHENTICATED = "credentials required (HTTP Basic or Bearer token)"
REFUSED = "unknown principal, wrong secret, or an expired or revoked token"


class CredentialsError(ValueError):
    """The credentials file is missing or malformed; the gateway refuses to start.

    `code` is what the CLI prints: CREDENTIALS_MISSING, CREDENTIALS_INVALID, PRINCIPAL_EXISTS.
    """

    def __init__(self, message: str, code: str = "CREDENTIALS_INVALID") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Principal(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    department: str | None = None
    roles: frozenset[Role] = frozenset()

    def has_role(self, role: Role) -> bool:
        return role in self.roles


class CredentialEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    department: str | None = None
    roles: frozenset[Role]
    secret_hash: str

    @field_validator("secret_hash")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith("scrypt$") or value.count("$") != 5:
            raise ValueError("secret_hash must be scrypt$N$r$p$salt$hash (govbus gateway hash)")
        return value

    def principal(self) -> Principal:
        return Principal(name=self.name, department=self.department, roles=self.roles)


class CredentialsFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    principals: tuple[CredentialEntry, ...]


class CredentialStore:
    """A credentials file's principals by name (the bootstrap, and offline checks)."""

    def __init__(self, entries: tuple[CredentialEntry, ...]) -> None:
        self.entries = entries
        self._by_name = {e.name: e for e in entries}
        self._passwords = PasswordChecker()

    @classmethod
    def from_file(cls, path: Path) -> CredentialStore:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
            return cls(CredentialsFile.model_validate(raw).principals)
        except (OSError, yaml.YAMLError) as exc:
            raise CredentialsError(f"{path}: cannot read credentials: {exc}") from exc
        except ValidationError as exc:
            problems = [
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                for e in exc.errors(include_input=False)
            ]
            raise CredentialsError(f"{path}: invalid credentials: {'; '.join(problems)}") from exc

    def authenticate(self, name: str, secret: str) -> Principal | None:
        entry = self._by_name.get(name)
        if not self._passwords.matches(name, secret, entry.secret_hash if entry else None):
            return None
        return entry.principal() if entry else None


class Verdict(Protocol):
    @property
    def principal(self) -> Principal | None: ...


class Authenticator(Protocol):
    """What checks secrets (govbus.gateway.principals.PrincipalService)."""

    def authenticate_token(self, token: str, name: str | None = None) -> Verdict: ...

    def authenticate_password(self, name: str, secret: str) -> Verdict: ...


def checks_a_password(header: str) -> bool:
    """Whether the header would cost a scrypt check (anything but a `gbt_` token)."""
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return not value.startswith("gbt_")
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except ValueError:  # not base64, not ASCII (str input), not UTF-8: no password
        return False
    return not decoded.partition(":")[2].startswith("gbt_")


def authenticate_header(authenticator: Authenticator, header: str) -> Principal | None:
    """The principal an Authorization header proves, or None (blocking: scrypt may run)."""
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except ValueError:  # binascii.Error, non-ASCII text, UnicodeDecodeError
            return None
        name, sep, secret = decoded.partition(":")
        return authenticator.authenticate_password(name, secret).principal if sep else None
    if scheme.lower() == "bearer" and value:
        if value.startswith("gbt_"):
            return authenticator.authenticate_token(value).principal
        name, sep, secret = value.partition(".")
        return authenticator.authenticate_password(name, secret).principal if sep else None
    return None


def authenticate_request(request: Request) -> Principal:
    """The caller, or ApiError 401 UNAUTHENTICATED (the message never echoes credentials)."""
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    header = request.headers.get("authorization")
    if not header:
        raise ApiError(401, "UNAUTHENTICATED", UNAUTHENTICATED)
    principal = authenticate_header(request.app.state.principals, header)
    if principal is None:
        raise ApiError(401, "UNAUTHENTICATED", REFUSED)
    return principal


def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the authenticated caller."""
    return authenticate_request(request)


def require_role(role: Role) -> Callable[[Principal], Principal]:
    """FastAPI dependency factory: the caller, if it holds `role`; 403 FORBIDDEN otherwise."""

    def dependency(principal: Principal = Depends(current_principal)) -> Principal:  # noqa: B008
        if not principal.has_role(role):
            raise ApiError(403, "FORBIDDEN", f"principal {principal.name} lacks role {role}")
        return principal

    return dependency
