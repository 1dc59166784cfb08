"""Checks every change event passes before it is sent and again before it is applied.

Order: the resource it belongs to, text the store can hold, its identifiers, then field
authority (一数一源).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from govbus._catalog import Catalog, EntityKind, Resource
from govbus._certificate_key import CertificateKey
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
    _identifiers(event, None)


def _identifiers(event: ChangeEvent[Any], problems: list[GovbusError] | None) -> None:
    """Raise the first problem, or with a `problems` list, append every one."""
    if event.entity is EntityKind.PERSON:
        normal = _valid(validate_citizen_id, event.entity_key, "entity_key", problems)
        _in_normal_form(normal, event, problems=problems)
    elif event.entity is EntityKind.LEGAL_ENTITY:
        normal = _valid(validate_uscc, event.entity_key, "entity_key", problems)
        _in_normal_form(normal, event, problems=problems)
    elif isinstance(event, CertificateChanged):
        _check_certificate_identifiers(event, problems)


def _report(error: GovbusError, problems: list[GovbusError] | None) -> None:
    if problems is None:
        raise error
    problems.append(error)


def _valid(
    validate: Callable[..., str], value: str, field: str, problems: list[GovbusError] | None
) -> str | None:
    try:
        return validate(value, field=field)
    except GovbusError as exc:
        _report(exc, problems)
        return None


def _in_normal_form(
    normal: str | None,
    event: ChangeEvent[Any],
    written: str | None = None,
    field: str = "entity_key",
    *,
    problems: list[GovbusError] | None = None,
) -> None:
    if normal is not None and normal != (event.entity_key if written is None else written):
        _report(
            GovbusError(
                ErrorCode.INVALID_IDENTIFIER,
                f"{field} must be written in its normal form (no spaces, capital letters)",
                field=field,
            ),
            problems,
        )


def _check_certificate_identifiers(
    event: CertificateChanged, problems: list[GovbusError] | None
) -> None:
    try:
        type_code, number = CertificateKey.parse(event.entity_key)
    except GovbusError as exc:
        _report(exc, problems)
        return
    data = event.data
    if data is None:
        return
    if data.licence_type_code is not None and data.licence_type_code != type_code:
        _report(
            GovbusError(
                ErrorCode.INVALID_IDENTIFIER,
                "licence_type_code differs from the one in entity_key",
                field="licence_type_code",
            ),
            problems,
        )
    if data.licence_number is not None and data.licence_number != number:
        _report(
            GovbusError(
                ErrorCode.INVALID_IDENTIFIER,
                "licence_number differs from the one in entity_key",
                field="licence_number",
            ),
            problems,
        )
    if data.issuer_uscc is not None:
        normal = _valid(validate_uscc, data.issuer_uscc, "issuer_uscc", problems)
        _in_normal_form(normal, event, data.issuer_uscc, "issuer_uscc", problems=problems)
    if data.holder_id is not None:
        if data.holder_type == "legal_entity":
            normal = _valid(validate_uscc, data.holder_id, "holder_id", problems)
            _in_normal_form(normal, event, data.holder_id, "holder_id", problems=problems)
        elif data.holder_type == "person":
            normal = _valid(validate_citizen_id, data.holder_id, "holder_id", problems)
            _in_normal_form(normal, event, data.holder_id, "holder_id", problems=problems)
        else:
            _report(
                GovbusError(
                    ErrorCode.SCHEMA_MISMATCH,
                    "holder_type must be given with holder_id: person or legal_entity",
                    field="holder_type",
                ),
                problems,
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
    for error in _authority_problems(resource, event):  # the first offending field
        raise error


def _authority_problems(resource: Resource, event: ChangeEvent[Any]) -> list[GovbusError]:
    department = event.source_department
    return [
        GovbusError(
            ErrorCode.NOT_AUTHORITATIVE,
            f"field {name} of {resource.code} is sourced from {spec.authority}, not {department}",
            field=name,
            details={"authority": spec.authority, "department": department},
        )
        for name in event.changed_fields
        if (spec := resource.field(name)).authority != department
    ]


def validate_event(catalog: Catalog, event: ChangeEvent[Any]) -> Resource:
    """Run every check; returns the event's resource or raises GovbusError."""
    resource = resource_for_event(catalog, event)
    check_storable_text(event)
    check_identifiers(event)
    check_authority(catalog, resource, event)
    return resource


def event_problems(catalog: Catalog, event: ChangeEvent[Any]) -> list[GovbusError]:
    """Every problem the checks find in an event, not only the first (for rejects files)."""
    try:
        resource = resource_for_event(catalog, event)
    except GovbusError as exc:
        return [exc]
    problems: list[GovbusError] = []
    try:
        check_storable_text(event)
    except GovbusError as exc:
        problems.append(exc)
    _identifiers(event, problems)
    try:
        check_authority(catalog, resource, event)
    except GovbusError as exc:
        if exc.code is ErrorCode.NOT_AUTHORITATIVE and event.operation != "DELETE":
            problems.extend(_authority_problems(resource, event))
        else:
            problems.append(exc)
    return problems
