"""Lookups and claim checks: the caller's grants, the core's policy, the store, the audit.

Which grants count: an active grant of the caller (its principal name) on the resource,
with delivery `lookup` for lookups, and `lookup` or `verify` for claim checks (a reader may
check what it may read; a `verify` grant checks only). `kafka` and `http` grants do not
allow lookups: the delivery path is part of what was asked for and approved.

An unknown key and a key the caller may not see take the same path: the store is read,
the audit record written, and the same 404 raised, whichever it was.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from govbus import (
    Catalog,
    CertificateKey,
    DisclosureKind,
    EntityKind,
    ErrorCode,
    GovbusError,
    GrantPolicy,
    Resource,
    grant_disclosure,
    pseudonymize,
    validate_citizen_id,
    validate_uscc,
)
from govbus.consumers import StoredRecord, StoreReader, field_text
from govbus.gateway._auth import Principal
from govbus.gateway.audit import AuditRecord, AuditSink
from govbus.gateway.lookups import _codes
from govbus.gateway.lookups._certificates import CertificateChecks
from govbus.gateway.lookups._claims import claim_fields, judge_claims
from govbus.gateway.lookups._models import (
    MAX_BATCH,
    BatchAnswer,
    CertificateAnswer,
    CertificateCheck,
    ClaimAnswer,
    ClaimValue,
    FieldValue,
    LookupAnswer,
)
from govbus.gateway.subscriptions import Grant, SubscriptionService

LOOKUP_DELIVERIES = frozenset({"lookup"})
VERIFY_DELIVERIES = frozenset({"lookup", "verify"})
_KEY_CAP = 200  # characters of a key read at all
_KEY_KINDS = {
    EntityKind.PERSON: "citizen identity number (GB 11643)",
    EntityKind.LEGAL_ENTITY: "unified social credit code (GB 32100)",
    EntityKind.CERTIFICATE: "certificate key <licence type code>:<licence number>",
}


# Set by `collecting_audit`: the request's audit records, committed by the caller (the
# routes await a group commit, holding no thread) before the answer leaves.
_COLLECTED: ContextVar[list[AuditRecord] | None] = ContextVar("lookup_audit", default=None)


def utc_now() -> datetime:
    return datetime.now(UTC)


def normalized_key(kind: EntityKind, raw: str, where: str) -> str:
    """The key as stored, from the core's identifier checks; 422 naming `where`, not the value."""
    try:
        if len(raw) > _KEY_CAP:
            raise GovbusError(ErrorCode.INVALID_IDENTIFIER, "too long")
        if kind is EntityKind.PERSON:
            return validate_citizen_id(raw)
        if kind is EntityKind.LEGAL_ENTITY:
            return validate_uscc(raw)
        return CertificateKey.parse(raw).format()
    except GovbusError:
        raise _codes.invalid_key(where, _KEY_KINDS[kind]) from None


class LookupService:
    def __init__(
        self,
        reader: StoreReader,
        catalog: Catalog,
        subscriptions: SubscriptionService,
        audit: AuditSink,
        pseudonym_key: bytes,
        *,
        clock: Callable[[], datetime] = utc_now,
        on_event_loop: bool = False,
    ) -> None:
        self.reader = reader
        self.catalog = catalog
        self.subscriptions = subscriptions
        self.audit = audit
        self.pseudonym_key = pseudonym_key
        self.clock = clock
        # True: the routes call it on the event loop (its databases are local files).
        self.on_event_loop = on_event_loop
        self.certificates = CertificateChecks(self)

    # --- grants and the store ------------------------------------------------------------

    def grants_of(self, principal: Principal) -> list[Grant]:
        """The caller's grants in force now (read on every request: a revocation counts at once)."""
        return [
            g
            for g in self.subscriptions.active_grants(self.clock())
            if g.subscriber == principal.name
        ]

    def policy(
        self, grants: Sequence[Grant], resource: Resource, deliveries: Collection[str]
    ) -> GrantPolicy | None:
        """The core's policy for the union of the caller's grants on `resource`; None: none."""
        matching = [g for g in grants if g.resource == resource.code and g.delivery in deliveries]
        if not matching:
            return None
        return grant_disclosure(resource, {f for g in matching for f in g.fields})

    def read(self, kind: EntityKind, keys: Sequence[str]) -> dict[str, StoredRecord]:
        try:
            return self.reader.records(kind, list(dict.fromkeys(keys)))
        except GovbusError as exc:
            if exc.code in (ErrorCode.STORE_UNAVAILABLE, ErrorCode.STORE_NOT_FOUND):
                raise _codes.store_unavailable() from None
            raise

    def resource_of(self, kind: EntityKind, key: str) -> Resource | None:
        licence_type = (
            CertificateKey.parse(key).licence_type_code if kind is EntityKind.CERTIFICATE else None
        )
        try:
            return self.catalog.resource_for_entity(kind, licence_type)
        except GovbusError:  # a licence type the catalog lacks: like an unknown key
            return None

    def pseudonym(self, key: str) -> str:
        """The key's keyed pseudonym (as Kafka record keys), in groups of four hex digits: a
        run of decimal digits in plain hex can look like a phone number to the audit guard."""
        digest = pseudonymize(key, self.pseudonym_key)
        return "-".join(digest[i : i + 4] for i in range(0, len(digest), 4))

    def write_audit(
        self,
        principal: Principal,
        action: str,
        resource: Resource | None,
        fields: Collection[str],
        records: int,
        *,
        target: str | None = None,
        outcome: str = "ok",
    ) -> None:
        record = AuditRecord(
            actor=principal.name,
            action=action,
            resource=resource.code if resource else None,
            fields=tuple(sorted(fields)),
            records=records,
            target=target,
            outcome=outcome,
        )
        collected = _COLLECTED.get()
        if collected is None:
            self.audit.append(record)
        else:
            collected.append(record)

    @contextmanager
    def collecting_audit(self) -> Iterator[list[AuditRecord]]:
        """Within it, audit records are collected for the caller to commit, not appended."""
        collected: list[AuditRecord] = []
        token = _COLLECTED.set(collected)
        try:
            yield collected
        finally:
            _COLLECTED.reset(token)

    # --- lookups -------------------------------------------------------------------------

    def lookup(self, principal: Principal, kind: EntityKind, raw_key: str) -> LookupAnswer:
        key = normalized_key(kind, raw_key, "path")
        record = self.read(kind, [key]).get(key)
        resource = self.resource_of(kind, key)
        grants = self.grants_of(principal)
        policy = self.policy(grants, resource, LOOKUP_DELIVERIES) if resource else None
        answer = _answer(policy, record)
        self.write_audit(
            principal,
            "lookup.served",
            resource,
            policy.delivered if policy and answer else (),
            1 if answer else 0,
            target=self.pseudonym(key),
            outcome="ok" if answer else "not_found",
        )
        if answer is None:
            raise _codes.not_found()
        return answer

    def lookup_many(
        self, principal: Principal, kind: EntityKind, raw_keys: Sequence[str]
    ) -> BatchAnswer:
        if len(raw_keys) > MAX_BATCH:
            raise _codes.batch_too_large(len(raw_keys), MAX_BATCH)
        keys = [normalized_key(kind, k, f"keys[{i}]") for i, k in enumerate(raw_keys)]
        found = self.read(kind, keys)
        grants = self.grants_of(principal)
        policies: dict[str, tuple[Resource | None, GrantPolicy | None]] = {}
        served: dict[str, int] = {}
        answers: list[LookupAnswer | None] = []
        for key in keys:
            resource = self.resource_of(kind, key)
            code = resource.code if resource else ""
            if code not in policies:
                policy = self.policy(grants, resource, LOOKUP_DELIVERIES) if resource else None
                policies[code] = (resource, policy)
            answer = _answer(policies[code][1], found.get(key))
            answers.append(answer)
            served[code] = served.get(code, 0) + (answer is not None)
        for code, (resource, policy) in sorted(policies.items()):
            self.write_audit(
                principal,
                "lookup.served",
                resource,
                policy.delivered if policy and served[code] else (),
                served[code],
                outcome="ok" if served[code] else "not_found",
            )
        return BatchAnswer(records=answers)

    # --- claim checks --------------------------------------------------------------------

    def verify_claims(
        self,
        principal: Principal,
        kind: EntityKind,
        raw_key: str,
        claims: dict[str, ClaimValue],
    ) -> ClaimAnswer:
        key = normalized_key(kind, raw_key, "path")
        resource = self.catalog.resource_for_entity(kind, None)
        needed = claim_fields(resource, claims)
        policy = self.policy(self.grants_of(principal), resource, VERIFY_DELIVERIES)
        delivered = policy.delivered if policy else {}
        missing = {f for f in needed.values() if f not in delivered}
        if missing:
            self.write_audit(principal, "claim.checked", resource, missing, 0, outcome="refused")
            raise _codes.claims_not_granted(resource.code, missing)
        record = self.read(kind, [key]).get(key)
        found = record is not None and not record.deleted
        self.write_audit(
            principal,
            "claim.checked",
            resource,
            set(needed.values()),
            1 if found else 0,
            target=self.pseudonym(key),
            outcome="ok" if found else "not_found",
        )
        if record is None or record.deleted:
            raise _codes.not_found()
        return ClaimAnswer(resource=resource.code, claims=judge_claims(resource, record, claims))

    def verify_certificate(self, principal: Principal, body: CertificateCheck) -> CertificateAnswer:
        return self.certificates.verify(principal, body)


def _answer(policy: GrantPolicy | None, record: StoredRecord | None) -> LookupAnswer | None:
    """The record as `policy` delivers it; None without a policy, a record, or a live one."""
    if policy is None or record is None or record.deleted:
        return None
    resource = policy.resource
    provenance = {p.field: p for p in record.provenance}
    fields: dict[str, FieldValue] = {}
    for name, disclosure in sorted(policy.delivered.items()):
        if name == resource.key.name:
            continue
        stored = record.values.get(name)
        origin = provenance.get(name)
        fields[name] = FieldValue(
            value=None if stored is None else disclosure.apply(field_text(stored)),
            disclosure="masked" if disclosure.kind is DisclosureKind.MASKED else "shown",
            source_department=origin.source_department if origin else None,
            changed_at=origin.occurred_at if origin else None,
            applied_at=origin.applied_at if origin else None,
        )
    key = policy.disclosure(resource.key.name).apply(record.key)
    return LookupAnswer(resource=resource.code, key=key, fields=fields)
