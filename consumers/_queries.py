"""Read side: a record with masks and provenance, and certificate verification."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from govbus import Catalog, CertificateKey, EntityKind, GovbusError, Resource, field_disclosure
from govbus.consumers._certificates import CertificateVerdict, certificate_validity
from govbus.consumers._store import FieldProvenance, Store, StoredRecord


@dataclass(frozen=True, slots=True)
class FieldView:
    name: str
    value: str
    provenance: FieldProvenance | None


def resource_of(catalog: Catalog, kind: EntityKind, key: str) -> Resource:
    if kind is not EntityKind.CERTIFICATE:
        return catalog.resource_for_entity(kind, None)
    return catalog.resource_for_entity(kind, CertificateKey.parse(key).licence_type_code)


def display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def field_views(catalog: Catalog, record: StoredRecord, *, unmasked: bool) -> list[FieldView]:
    """Each field's value as the sharing policy lets it out, and its provenance."""
    resource = resource_of(catalog, record.entity, record.key)
    provenance = {p.field: p for p in record.provenance}
    return [
        FieldView(
            name,
            field_disclosure(resource, name, unmasked=unmasked).apply(display(value)),
            provenance.get(name),
        )
        for name, value in record.values.items()
    ]


def masked_key(catalog: Catalog, kind: EntityKind, key: str, *, unmasked: bool) -> str:
    """The record's key as the sharing policy lets it out (a certificate's licence type shows)."""
    resource = resource_of(catalog, kind, key)
    if kind is EntityKind.CERTIFICATE:
        parsed = CertificateKey.parse(key)
        number = parsed.licence_number
        shown = field_disclosure(resource, "licence_number", unmasked=unmasked).apply(number)
        return parsed._replace(licence_number=shown).format()
    return field_disclosure(resource, resource.key.name, unmasked=unmasked).apply(key)


def find_certificates(catalog: Catalog, store: Store, number: str) -> list[StoredRecord]:
    """`<licence type>:<number>`, or a bare number looked up under every licence type."""
    try:
        keys = [CertificateKey.parse(number, field="number").format()]
    except GovbusError:  # a bare number
        keys = [
            CertificateKey(r.licence_type_code, number).format()
            for r in catalog.resources
            if r.entity is EntityKind.CERTIFICATE and r.licence_type_code
        ]
    found = (store.record(EntityKind.CERTIFICATE, key) for key in keys)
    return [r for r in found if r is not None]


def verify_certificate(record: StoredRecord, today: date | None = None) -> CertificateVerdict:
    return certificate_validity(record, today or date.today())
