"""`POST /v1/certificates/verify`: valid or not, and why not, with no field of the record.

The verdict reads a certificate's status and validity dates, so the caller's grant (lookup
or verify) must cover `status`, `valid_from` and `valid_to`, and `holder_id` to check by
holder. A bare number is looked for only under the licence types the caller may check, so
it cannot reveal a certificate of another type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from govbus import (
    CertificateKey,
    EntityKind,
    GovbusError,
    Resource,
    is_valid_citizen_id,
    is_valid_uscc,
    today_in_china,
)
from govbus.consumers import CertificateVerdict, StoredRecord, Validity, certificate_validity
from govbus.gateway._auth import Principal
from govbus.gateway._errors import ApiError
from govbus.gateway.lookups import _codes
from govbus.gateway.lookups._models import CertificateAnswer, CertificateCheck
from govbus.gateway.subscriptions import Grant

if TYPE_CHECKING:
    from govbus.gateway.lookups._service import LookupService

VERDICT_FIELDS = ("status", "valid_from", "valid_to")
# The most favourable verdict among a holder's certificates of one type is the answer.
_PREFERENCE = (
    Validity.VALID,
    Validity.NOT_YET_VALID,
    Validity.HOLDER_UNKNOWN,
    Validity.EXPIRED,
    Validity.SUSPENDED,
    Validity.REVOKED,
    Validity.CANCELLED,
)


class CertificateChecks:
    def __init__(self, service: LookupService) -> None:
        self.service = service

    def verify(self, principal: Principal, body: CertificateCheck) -> CertificateAnswer:
        grants = self.service.grants_of(principal)
        if body.holder_id is not None:
            if body.licence_type is None or body.number is not None:
                raise _codes.bad_certificate_check()
            return self._by_holder(principal, grants, body.licence_type, body.holder_id)
        if body.number is None:
            raise _codes.bad_certificate_check()
        if body.licence_type is not None:
            key = _key(CertificateKey(body.licence_type, body.number), "number")
            return self._by_keys(principal, [self._resource(grants, body.licence_type)], key)
        try:
            typed = CertificateKey.parse(body.number, field="number")
        except GovbusError:  # a bare number: under every type the caller may check
            return self._bare(principal, grants, body.number)
        return self._by_keys(
            principal, [self._resource(grants, typed.licence_type_code)], _key(typed, "number")
        )

    def _resource(self, grants: list[Grant], licence_type: str, *extra: str) -> Resource:
        """The licence type's resource, if the caller's grant covers the verdict's fields."""
        try:
            resource = self.service.catalog.resource_for_entity(
                EntityKind.CERTIFICATE, licence_type
            )
        except GovbusError:
            raise ApiError(
                422, "UNKNOWN_RESOURCE", "licence_type: not a certificate type of the catalog"
            ) from None
        missing = self._missing(grants, resource, extra)
        if missing:
            raise _codes.claims_not_granted(resource.code, missing)
        return resource

    def _missing(
        self, grants: list[Grant], resource: Resource, extra: tuple[str, ...]
    ) -> list[str]:
        from govbus.gateway.lookups._service import VERIFY_DELIVERIES

        policy = self.service.policy(grants, resource, VERIFY_DELIVERIES)
        delivered = policy.delivered if policy else {}
        return [f for f in (*VERDICT_FIELDS, *extra) if f not in delivered]

    def _bare(self, principal: Principal, grants: list[Grant], number: str) -> CertificateAnswer:
        resources = [
            r
            for r in self.service.catalog.resources
            if r.entity is EntityKind.CERTIFICATE
            and r.licence_type_code
            and not self._missing(grants, r, ())
        ]
        if not resources:
            raise _codes.no_certificate_grant()
        keys = [_key(CertificateKey(str(r.licence_type_code), number), "number") for r in resources]
        return self._judge(principal, resources, keys, VERDICT_FIELDS)

    def _by_keys(
        self, principal: Principal, resources: list[Resource], key: str
    ) -> CertificateAnswer:
        return self._judge(principal, resources, [key], VERDICT_FIELDS)

    def _by_holder(
        self, principal: Principal, grants: list[Grant], licence_type: str, holder_id: str
    ) -> CertificateAnswer:
        holder = holder_id.strip().upper()
        if is_valid_citizen_id(holder):
            holder_type = str(EntityKind.PERSON)
        elif is_valid_uscc(holder):
            holder_type = str(EntityKind.LEGAL_ENTITY)
        else:
            raise _codes.invalid_key("holder_id", "identity number or USCC")
        resource = self._resource(grants, licence_type, "holder_id")
        try:
            keys = self.service.reader.certificates_held(
                holder_type, holder, str(resource.licence_type_code)
            )
        except GovbusError:
            raise _codes.store_unavailable() from None
        return self._judge(
            principal, [resource], keys, (*VERDICT_FIELDS, "holder_id"), target=holder
        )

    def _judge(
        self,
        principal: Principal,
        resources: list[Resource],
        keys: list[str],
        fields: tuple[str, ...],
        *,
        target: str | None = None,
    ) -> CertificateAnswer:
        found = list(self.service.read(EntityKind.CERTIFICATE, keys).values()) if keys else []
        by_type = {CertificateKey.parse(r.key).licence_type_code for r in found}
        if len(by_type) > 1:  # a bare number held under several granted types
            raise ApiError(
                422,
                "AMBIGUOUS_NUMBER",
                "number: held under several licence types; give licence_type",
            )
        verdict = _best([certificate_validity(r, today_in_china()) for r in found])
        resource = _resource_of(resources, found)
        pseudonym = self.service.pseudonym(target or (keys[0] if len(keys) == 1 else ""))
        self.service.write_audit(
            principal,
            "claim.checked",
            resource,
            fields,
            len(found),
            target=pseudonym if (target or len(keys) == 1) else None,
            outcome="ok" if found else "not_found",
        )
        if verdict is None:
            return CertificateAnswer(
                resource=resource.code if resource else None, valid=False, reason="not_found"
            )
        return CertificateAnswer(
            resource=resource.code if resource else None,
            valid=verdict.is_valid,
            reason=verdict.validity.value,
        )


def _key(key: CertificateKey, where: str) -> str:
    try:
        return key.format()
    except GovbusError:
        raise _codes.invalid_key(where, "certificate number") from None


def _best(verdicts: list[CertificateVerdict]) -> CertificateVerdict | None:
    return min(verdicts, key=lambda v: _PREFERENCE.index(v.validity), default=None)


def _resource_of(resources: list[Resource], found: list[StoredRecord]) -> Resource | None:
    if len(resources) == 1:
        return resources[0]
    if found:
        code = CertificateKey.parse(found[0].key).licence_type_code
        return next((r for r in resources if r.licence_type_code == code), None)
    return None
