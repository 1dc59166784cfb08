"""Read side: a record with masks and provenance, and certificate verification."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from govbus import Catalog, CertificateKey, EntityKind, GovbusError, Resource
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
    """Each field's value (masked per the catalog unless `unmasked`) and its provenance."""
    resource = resource_of(catalog, record.entity, record.key)
    provenance = {p.field: p for p in record.provenance}
    views = []
    for name, value in record.values.items():
        text = display(value)
        spec = resource.fields_by_name.get(name)
        if text and spec is not None and not unmasked:
            text = spec.masked(text)
        views.append(FieldView(name, text, provenance.get(name)))
    return views


def masked_key(catalog: Catalog, kind: EntityKind, key: str, *, unmasked: bool) -> str:
    if unmasked:
        return key
    resource = resource_of(catalog, kind, key)
    if kind is EntityKind.CERTIFICATE:
        parsed = CertificateKey.parse(key)
        spec = resource.fields_by_name.get("licence_number")
        number = parsed.licence_number
        return parsed._replace(licence_number=spec.masked(number) if spec else number).format()
    return resource.key.masked(key)


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
