"""The native fast path of one department's publisher, built from the catalog.

Routes cover the resources with one event class each (persons, legal entities); a
certificate's resource depends on its licence type, so certificates take the Python
path (with the native record maker). See `native/src/publish.rs`.
"""

from __future__ import annotations

from typing import Any

from govbus import (
    EVENT_TYPES,
    Contract,
    EntityKind,
    FastRoute,
    address_code_spans,
    native_fast_path,
    today_in_china,
)

_IDENTIFIERS = {EntityKind.PERSON: "citizen_id", EntityKind.LEGAL_ENTITY: "uscc"}


def build_fast_path(contract: Contract, department: str, max_bytes: int) -> Any | None:
    """The native `FastPath` for `department`, or None where the native paths are off."""
    if not contract.native:
        return None
    routes: list[FastRoute] = []
    for entity, identifier in _IDENTIFIERS.items():
        resources = [r for r in contract.catalog.resources if r.entity is entity]
        if len(resources) != 1:
            continue  # one class, several resources: Python picks the resource
        resource = resources[0]
        maker = contract.record_maker(resource, department)
        if maker is None:
            continue
        routes.append(
            (
                EVENT_TYPES[entity],
                resource.code,
                resource.topic,
                maker,
                identifier,
                resource.fields_sourced_from(department),
                resource.key.authority == department,
            )
        )
    # Identity numbers: Python's own table of address codes, and today's date for "born
    # in the past"; later birth dates are left to the Python checks.
    return native_fast_path(department, routes, max_bytes, address_code_spans(), today_in_china())
