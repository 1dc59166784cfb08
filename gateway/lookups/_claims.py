"""Claims about a record, judged true or false: what each claim reads and how it is judged.

A claim names a data field of the resource (true when the stored value, as text, equals
the claimed one; null claims "no value") or a derived claim below, which reads one field.
A claim is allowed only when the caller's grant covers the field it reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from govbus import EntityKind, Resource
from govbus.consumers import StoredRecord, field_text
from govbus.gateway.lookups import _codes
from govbus.gateway.lookups._districts import district_pattern, in_district
from govbus.gateway.lookups._models import ClaimValue


@dataclass(frozen=True, slots=True)
class DerivedClaim:
    field: str  # the one field it reads
    expects: type  # the claimed value's type
    judge: Callable[[Any, Any], bool]  # (stored value, claimed value) -> verdict
    well_formed: Callable[[Any], bool] = lambda _claimed: True
    form: str = ""  # what a well-formed claimed value is, for the 422


def _alive(death_date: Any, claimed: bool) -> bool:
    return (death_date is None) is claimed


DERIVED: dict[EntityKind, dict[str, DerivedClaim]] = {
    EntityKind.PERSON: {
        "alive": DerivedClaim("death_date", bool, _alive),
        "household_district": DerivedClaim(
            "household_address",
            str,
            lambda address, code: in_district(address, code),
            lambda code: district_pattern(code) is not None,
            "a six-digit county address code in force",
        ),
    },
}


def claim_fields(resource: Resource, claims: dict[str, ClaimValue]) -> dict[str, str]:
    """Each claim's field, after checking names and value types (422 naming the claim)."""
    derived = DERIVED.get(resource.entity, {})
    unknown = [n for n in claims if n not in derived and n not in resource.fields_by_name]
    if unknown:
        # Only names that look like catalog names are repeated: a claim name could be anything.
        shown = [n if n.isascii() and n.isidentifier() and len(n) <= 64 else "?" for n in unknown]
        raise _codes.unknown_claims(resource.code, shown)
    fields: dict[str, str] = {}
    for name, value in claims.items():
        rule = derived.get(name)
        if rule is not None:
            if not isinstance(value, rule.expects):
                raise _codes.bad_claim_value(name, rule.expects.__name__)
            if not rule.well_formed(value):
                raise _codes.bad_claim_value(name, rule.form)
            fields[name] = rule.field
        else:
            if isinstance(value, bool):
                raise _codes.bad_claim_value(name, "a string or null")
            fields[name] = name
    return fields


def judge_claims(
    resource: Resource, record: StoredRecord, claims: dict[str, ClaimValue]
) -> dict[str, bool]:
    derived = DERIVED.get(resource.entity, {})
    verdicts: dict[str, bool] = {}
    for name, claimed in claims.items():
        rule = derived.get(name)
        if rule is not None:
            verdicts[name] = rule.judge(record.values.get(rule.field), claimed)
            continue
        stored = record.values.get(name)
        verdicts[name] = stored is None if claimed is None else field_text(stored) == claimed
    return verdicts
