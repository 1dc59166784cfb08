"""Principals, tokens and SCRAM users: the rules, for the admin API, the CLI and the guard.

Every change is audited; an authentication failure is audited with the principal's name
only when that principal exists (a typed name may be anything, personal data included).
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from govbus.gateway._auth import CredentialEntry, Principal, Role
from govbus.gateway._errors import ApiError
from govbus.gateway._passwords import PasswordChecker
from govbus.gateway.audit import AuditRecord, AuditSink
from govbus.gateway.principals._models import (
    NAME_PATTERN,
    CreatedPrincipal,
    IssuedToken,
    Kind,
    PrincipalRecord,
    TokenRecord,
)
from govbus.gateway.principals._scram import KafkaUsers
from govbus.gateway.principals._secrets import new_token, parse_token, token_digest
from govbus.gateway.principals._store import PrincipalStore, now

DepartmentCheck = Callable[[str], object]  # raises GovbusError UNKNOWN_DEPARTMENT
_DUMMY_DIGEST = "0" * 64


@dataclass(frozen=True)
class AuthResult:
    principal: Principal | None
    failure: str | None = None  # unknown, wrong_secret, expired, revoked, disabled
    known: str | None = None  # the principal's name, only when it exists


def default_kind(roles: Collection[Role], department: str | None) -> Kind:
    if "admin" in roles:
        return "admin"
    if department is not None:
        return "department"
    return "operator" if "operator" in roles else "service"


def _not_found(what: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", f"no such {what}")


class PrincipalService:
    def __init__(
        self,
        store: PrincipalStore,
        token_key: bytes,
        audit: AuditSink,
        kafka_users: KafkaUsers | None = None,
        check_department: DepartmentCheck | None = None,
        passwords: PasswordChecker | None = None,
    ) -> None:
        self.store = store
        self._key = token_key
        self._audit = audit
        self._kafka = kafka_users
        self._check_department = check_department
        self._passwords = passwords or PasswordChecker()

    def _record(self, actor: str, action: str, target: str, outcome: str = "ok") -> None:
        self._audit.append(AuditRecord(actor=actor, action=action, target=target, outcome=outcome))

    # -- principals ---------------------------------------------------------------------

    def bootstrap(self, entries: Iterable[CredentialEntry]) -> int:
        """Import the credentials file's principals into an empty table; how many."""
        if self.store.count():
            return 0
        imported = 0
        for entry in entries:
            record = PrincipalRecord(
                name=entry.name,
                kind=default_kind(entry.roles, entry.department),
                department=entry.department,
                roles=entry.roles,
                kafka_user=None,
                created_at=now(),
            )
            if self.store.insert(record, entry.secret_hash):
                imported += 1
                self._record("system", "principal.imported", entry.name)
        return imported

    def create(
        self,
        actor: str,
        name: str,
        roles: Collection[Role],
        department: str | None = None,
        kind: Kind | None = None,
        kafka: bool | None = None,
    ) -> CreatedPrincipal:
        if not re.fullmatch(NAME_PATTERN, name):
            raise ApiError(422, "INVALID_REQUEST", "a name is letters, digits, '-' and '_'")
        if not roles:
            raise ApiError(422, "INVALID_REQUEST", "a principal needs at least one role")
        if department is not None and self._check_department is not None:
            self._check_department(department)
        kind = kind or default_kind(roles, department)
        scram = self._kafka is not None and self._kafka.enabled
        if kafka and not scram:
            raise ApiError(409, "KAFKA_NOT_SECURED", "the broker has no SASL: no SCRAM user")
        wants_user = scram if kafka is None else kafka
        wants_user = wants_user and kind == "department"
        record = PrincipalRecord(
            name=name,
            kind=kind,
            department=department,
            roles=frozenset(roles),
            kafka_user=name if wants_user else None,
            created_at=now(),
        )
        if not self.store.insert(record, None):
            raise ApiError(409, "PRINCIPAL_EXISTS", f"principal {name} exists already")
        self._record(actor, "principal.created", name)
        password = None
        if record.kafka_user is not None:
            try:
                password = self._set_scram(actor, record.kafka_user, "scram.created")
            except ApiError:
                self.store.delete(name)
                self._record(actor, "principal.removed", name)
                raise
        return CreatedPrincipal(principal=record, kafka_password=password)

    def _set_scram(self, actor: str, user: str, action: str) -> str:
        assert self._kafka is not None
        password = secrets.token_urlsafe(32)
        try:
            self._kafka.upsert(user, password)
        except ApiError:
            self._record(actor, action, user, outcome="failed")
            raise
        self._record(actor, action, user)
        return password

    def _drop_scram(self, actor: str, record: PrincipalRecord) -> None:
        if record.kafka_user is None or self._kafka is None or not self._kafka.enabled:
            return
        self._kafka.delete(record.kafka_user)
        self.store.set_kafka_user(record.name, None)
        self._record(actor, "scram.removed", record.kafka_user)

    def get(self, name: str) -> PrincipalRecord:
        record = self.store.get(name)
        if record is None:
            raise _not_found("principal")
        return record

    def principals(self) -> list[PrincipalRecord]:
        return self.store.all()

    def department_principals(self) -> list[PrincipalRecord]:
        """Enabled department principals, with their SCRAM user names (for the ACLs)."""
        return [p for p in self.store.all() if p.kind == "department" and p.enabled]

    def kafka_user(self, name: str) -> str:
        """The SCRAM user of principal `name` (ACLs name it `User:<this>`); 404 if none."""
        user = self.get(name).kafka_user
        if user is None:
            raise ApiError(404, "NO_KAFKA_USER", f"principal {name} has no Kafka user")
        return user

    def rotate_kafka_password(self, actor: str, name: str) -> str:
        """A new SCRAM password (made for a department that had none); shown once."""
        record = self.get(name)
        if not record.enabled:
            raise ApiError(409, "PRINCIPAL_DISABLED", f"principal {name} is disabled")
        if self._kafka is None or not self._kafka.enabled:
            raise ApiError(409, "KAFKA_NOT_SECURED", "the broker has no SASL: no SCRAM user")
        user = record.kafka_user or name
        password = self._set_scram(
            actor, user, "scram.rotated" if record.kafka_user else "scram.created"
        )
        self.store.set_kafka_user(name, user)
        return password

    def disable(self, actor: str, name: str) -> PrincipalRecord:
        record = self.get(name)
        if record.enabled:
            self._drop_scram(actor, record)
            self.store.set_disabled(name, now())
            self._record(actor, "principal.disabled", name)
        return self.get(name)

    def remove(self, actor: str, name: str) -> None:
        record = self.get(name)
        self._drop_scram(actor, record)
        self.store.delete(name)
        self._record(actor, "principal.removed", name)

    # -- tokens -------------------------------------------------------------------------

    def create_token(
        self, actor: str, name: str, expires_at: datetime | None = None
    ) -> IssuedToken:
        record = self.get(name)
        if not record.enabled:
            raise ApiError(409, "PRINCIPAL_DISABLED", f"principal {name} is disabled")
        created = now()
        if expires_at is not None and expires_at <= created:
            raise ApiError(422, "INVALID_EXPIRY", "the expiry must be in the future")
        token_id, token = new_token()
        stored = TokenRecord(
            token_id=token_id, principal=name, created_at=created, expires_at=expires_at
        )
        self.store.insert_token(stored, token_digest(self._key, token))
        self._record(actor, "token.created", token_id)
        return IssuedToken(token_id=token_id, principal=name, token=token, expires_at=expires_at)

    def tokens(self, name: str | None = None) -> list[TokenRecord]:
        if name is not None:
            self.get(name)
        return self.store.tokens(name)

    def _token(self, token_id: str) -> TokenRecord:
        found = self.store.token(token_id)
        if found is None:
            raise _not_found("token")
        return found[0]

    def revoke_token(self, actor: str, token_id: str) -> TokenRecord:
        token = self._token(token_id)
        if token.revoked_at is None:
            self.store.revoke_token(token_id, now())
            self._record(actor, "token.revoked", token_id)
        return self._token(token_id)

    def rotate_token(
        self, actor: str, token_id: str, expires_at: datetime | None = None
    ) -> IssuedToken:
        """A new token for the same principal; the old one stops working at once."""
        old = self._token(token_id)
        if expires_at is None and old.expires_at is not None and old.expires_at > now():
            expires_at = old.expires_at
        issued = self.create_token(actor, old.principal, expires_at)
        self.revoke_token(actor, token_id)
        return issued

    # -- authentication -----------------------------------------------------------------

    def _failed(self, failure: str, known: str | None) -> AuthResult:
        self._audit.append(
            AuditRecord(
                actor="anonymous",
                action="auth.failed",
                target=known,
                reason=failure,
                outcome="refused",
            )
        )
        return AuthResult(None, failure, known)

    def _usable(self, record: PrincipalRecord | None) -> AuthResult:
        if record is None:
            return self._failed("unknown", None)
        if not record.enabled:
            return self._failed("disabled", record.name)
        return AuthResult(record.principal(), known=record.name)

    def authenticate_token(self, token: str, name: str | None = None) -> AuthResult:
        """A `gbt_` token (with Basic, `name` must be its principal): one row, one HMAC."""
        parsed = parse_token(token)
        found = self.store.token_and_principal(parsed.token_id) if parsed else None
        digest = token_digest(self._key, token)
        if found is None or not hmac.compare_digest(digest, found[1]):
            hmac.compare_digest(digest, _DUMMY_DIGEST)
            return self._failed("unknown", None)
        record, _digest, owner = found
        if name is not None and name != record.principal:
            return self._failed("unknown", None)
        if record.revoked_at is not None:
            return self._failed("revoked", record.principal)
        if not record.usable_at(now()):
            return self._failed("expired", record.principal)
        return self._usable(owner)

    def authenticate_password(self, name: str, secret: str) -> AuthResult:
        """HTTP Basic with a password: scrypt, against a dummy hash for an unknown name."""
        if parse_token(secret) is not None:
            return self.authenticate_token(secret, name)
        found = self.store.with_password(name)
        record, stored = found if found else (None, None)
        if not self._passwords.matches(name, secret, stored):
            if record is None:
                return self._failed("unknown", None)
            return self._failed("wrong_secret", record.name)
        return self._usable(record)
