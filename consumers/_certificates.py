"""Certificate validity, computed at query time from the stored record and today's date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from govbus.consumers._store import StoredRecord


class Validity(StrEnum):
    VALID = "valid"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    HOLDER_UNKNOWN = "holder_unknown"


@dataclass(frozen=True, slots=True)
class CertificateVerdict:
    validity: Validity
    reason: str

    @property
    def is_valid(self) -> bool:
        return self.validity is Validity.VALID


_WITHDRAWN = {
    "suspended": Validity.SUSPENDED,
    "revoked": Validity.REVOKED,
    "cancelled": Validity.CANCELLED,
}


def certificate_validity(record: StoredRecord, today: date) -> CertificateVerdict:
    """Valid now, or the first reason why not: withdrawn, expired, not yet valid, no holder."""
    values = record.values
    if record.deleted:
        return CertificateVerdict(Validity.CANCELLED, "withdrawn by its issuer (deleted)")
    status = values.get("status")
    if status in _WITHDRAWN:
        return CertificateVerdict(_WITHDRAWN[status], f"{status} by its issuer")
    valid_to: date | None = values.get("valid_to")
    if status == "expired" or (valid_to is not None and today > valid_to):
        when = f" on {valid_to.isoformat()}" if valid_to else ""
        return CertificateVerdict(Validity.EXPIRED, f"expired{when}")
    valid_from: date | None = values.get("valid_from")
    if valid_from is not None and today < valid_from:
        return CertificateVerdict(
            Validity.NOT_YET_VALID, f"not valid before {valid_from.isoformat()}"
        )
    if not record.holder_known:
        return CertificateVerdict(
            Validity.HOLDER_UNKNOWN, "its holder is not (yet) in the base store"
        )
    # The reason follows the verdict ("VALID until …"): it does not repeat it.
    until = f"until {valid_to.isoformat()}" if valid_to else "with no end date"
    return CertificateVerdict(Validity.VALID, until)
