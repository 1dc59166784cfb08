"""Checks every change event passes before it is sent and again before it is applied.

Order: the resource it belongs to, text the store can hold, its identifiers, then field
authority (一数一源).
"""

from __future__ import annotations

from typing import Any

from govbus._catalog import Catalog, EntityKind, Resource
from govbus._changes import CertificateChanged, ChangeEvent
from govbus._errors import ErrorCode, GovbusError
from govbus._identifiers import validate_citizen_id, validate_uscc
from govbus._storable_text import check_storable_text


def resource_for_event(catalog: Catalog, event: ChangeEvent[Any]) -> Resource:
    licence_type = event.licence_type_code if isinstance(event, CertificateChanged) else None
    return catalog.resource_for_entity(event.entity, licence_type)


def check_identifiers(event: ChangeEvent[Any]) -> None:
    """Valid, and in normal form: the store and the Kafka key use identifiers as written,
    so `11010519491231002x` and `11010519491231002X` would be two persons."""
    if event.entity is EntityKind.PERSON:
        _in_normal_form(validate_citizen_id(event.entity_key, field="entity_key"), event)
    elif event.entity is EntityKind.LEGAL_ENTITY:
        _in_normal_form(validate_uscc(event.entity_key, field="entity_key"), event)
    elif isinstance(event, CertificateChanged):
        _check_certificate_identifiers(event)


def _in_normal_form(
    normal: str, event: ChangeEvent[Any], written: str | None = None, field: str = "entity_key"
) -> None:
    if normal != (event.entity_key if written is None else written):
        raise GovbusError(
            ErrorCode.INVALID_IDENTIFIER,
            f"{field} must be written in its normal form (no spaces, capital letters)",
            field=field,
        )


def _check_certificate_identifiers(event: CertificateChanged) -> None:
    type_code, sep, number = event.entity_key.partition(":")
    if not sep or not type_code or not number:
        raise GovbusError(
            ErrorCode.INVALID_IDENTIFIER,
            "entity_key of a certificate must be '<licence type code>:<licence number>'",
            field="entity_key",
        )
    data = event.data
    if data is None:
        return
    if data.licence_type_code is not None and data.licence_type_code != type_code:
        raise GovbusError(
            ErrorCode.INVALID_IDENTIFIER,
            "licence_type_code differs from the one in entity_key",
            field="licence_type_code",
        )
    if data.licence_number is not None and data.licence_number != number:
        raise GovbusError(
            ErrorCode.INVALID_IDENTIFIER,
            "licence_number differs from the one in entity_key",
            field="licence_number",
        )
    if data.issuer_uscc is not None:
        normal = validate_uscc(data.issuer_uscc, field="issuer_uscc")
        _in_normal_form(normal, event, data.issuer_uscc, "issuer_uscc")
    if data.holder_id is not None:
        if data.holder_type == "legal_entity":
            normal = validate_uscc(data.holder_id, field="holder_id")
            _in_normal_form(normal, event, data.holder_id, "holder_id")
        elif data.holder_type == "person":
            normal = validate_citizen_id(data.holder_id, field="holder_id")
            _in_normal_form(normal, event, data.holder_id, "holder_id")
        else:
            raise GovbusError(
                ErrorCode.SCHEMA_MISMATCH,
                "holder_type must be given with holder_id: person or legal_entity",
                field="holder_type",
            )


def check_authority(catalog: Catalog, resource: Resource, event: ChangeEvent[Any]) -> None:
    """Refuse fields the publishing department is not the authoritative source of."""
    department = event.source_department
    catalog.department(department)
    if event.operation == "DELETE":
        if resource.key.authority != department:
            raise GovbusError(
                ErrorCode.NOT_AUTHORITATIVE,
                f"only {resource.key.authority} may delete {resource.code} records, "
                f"not {department}",
                field=resource.key.name,
                details={"authority": resource.key.authority, "department": department},
            )
        return
    if not event.changed_fields:
        raise GovbusError(ErrorCode.SCHEMA_MISMATCH, "an UPSERT must change at least one field")
    if resource.fields_sourced_from(department).issuperset(event.changed_fields):
        return
    for name in event.changed_fields:  # find the first offending field, for the error
        spec = resource.field(name)
        if spec.authority != department:
            raise GovbusError(
                ErrorCode.NOT_AUTHORITATIVE,
                f"field {name} of {resource.code} is sourced from {spec.authority}, "
                f"not {department}",
                field=name,
                details={"authority": spec.authority, "department": department},
            )


def validate_event(catalog: Catalog, event: ChangeEvent[Any]) -> Resource:
    """Run every check; returns the event's resource or raises GovbusError."""
    resource = resource_for_event(catalog, event)
    check_storable_text(event)
    check_identifiers(event)
    check_authority(catalog, resource, event)
    return resource
