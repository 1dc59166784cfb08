"""Who is calling: departments, services and operators, by HTTP Basic or Bearer token.

Credentials live in a YAML file (GOVBUS_GATEWAY_CREDENTIALS) as salted scrypt hashes.
HTTP Basic is what confluent-kafka's SchemaRegistryClient sends (`basic.auth.user.info`);
a Bearer token is `<principal name>.<secret>`, so it is looked up by name, then verified.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import yaml
from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from govbus.gateway._errors import ApiError

Role = Literal["admin", "provider", "subscriber", "operator"]
# scrypt cost: ~16 MiB and tens of milliseconds per check; verified secrets are cached.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


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


def hash_secret(secret: str, *, salt: bytes | None = None) -> str:
    """`scrypt$N$r$p$salt$hash` with a random 16-byte salt."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    return "$".join(
        ["scrypt", str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P), salt.hex(), digest.hex()]
    )


def verify_secret(secret: str, stored: str) -> bool:
    _, n, r, p, salt, digest = stored.split("$")
    candidate = hashlib.scrypt(
        secret.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)
    )
    return hmac.compare_digest(candidate.hex(), digest)


class CredentialStore:
    """Principals by name; remembers verified secrets by keyed digest, never in the clear."""

    def __init__(self, entries: tuple[CredentialEntry, ...]) -> None:
        self._entries = {e.name: e for e in entries}
        self._cache_key = secrets.token_bytes(32)
        self._verified: dict[bytes, Principal] = {}
        self._lock = threading.Lock()

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
        cache_key = hmac.new(self._cache_key, f"{name}\0{secret}".encode(), "sha256").digest()
        with self._lock:
            known = self._verified.get(cache_key)
        if known is not None:
            return known
        entry = self._entries.get(name)
        if entry is None or not verify_secret(secret, entry.secret_hash):
            return None
        principal = entry.principal()
        with self._lock:
            if len(self._verified) > 10_000:
                self._verified.clear()
            self._verified[cache_key] = principal
        return principal


def _credentials_from_header(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        name, sep, secret = decoded.partition(":")
        return (name, secret) if sep else None
    if scheme.lower() == "bearer":
        name, sep, secret = value.partition(".")
        return (name, secret) if sep else None
    return None


def authenticate_request(request: Request) -> Principal:
    """The caller, or ApiError 401 UNAUTHENTICATED (the message never echoes credentials)."""
    header = request.headers.get("authorization")
    if not header:
        raise ApiError(401, "UNAUTHENTICATED", "credentials required (HTTP Basic or Bearer)")
    pair = _credentials_from_header(header)
    store: CredentialStore = request.app.state.credentials
    principal = store.authenticate(*pair) if pair else None
    if principal is None:
        raise ApiError(401, "UNAUTHENTICATED", "unknown principal or wrong secret")
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
