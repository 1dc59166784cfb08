"""An invalid catalog is INVALID_CATALOG, and the message names the resource and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from govbus import ErrorCode, GovbusError, SchemaRepository, load_catalog

PHONE = (
    "{name: phone, authority: HRSS, sharing: not_shared, sensitivity: personal, "
    "mask: {keep: [3, 4]}}"
)


def _load_with(schemas: Path, old: str, new: str) -> GovbusError:
    catalog = schemas / "catalog.yaml"
    text = catalog.read_text(encoding="utf-8")
    assert old in text
    catalog.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(GovbusError) as refused:
        load_catalog(catalog, SchemaRepository(schemas / "avro"))
    assert refused.value.code is ErrorCode.INVALID_CATALOG
    return refused.value


def test_shipped_catalog_is_valid(schemas_copy: Path) -> None:
    catalog = load_catalog(schemas_copy / "catalog.yaml", SchemaRepository(schemas_copy / "avro"))
    assert catalog.resource("BR-LEGAL-ENTITY").compatibility == "FULL_TRANSITIVE"
    assert {"PSB", "CAB", "AMR", "TAX", "HOUSING", "HPF", "HRSS", "BANK01"} <= set(
        catalog.departments_by_code
    )


def test_field_without_authority(schemas_copy: Path) -> None:
    error = _load_with(
        schemas_copy, PHONE, "{name: phone, sharing: not_shared, sensitivity: personal}"
    )
    assert "resources[BR-PERSON].fields[phone].authority" in error.message


def test_field_with_two_authorities(schemas_copy: Path) -> None:
    error = _load_with(
        schemas_copy, PHONE, "{name: phone, authority: [HRSS, PSB], sharing: not_shared}"
    )
    assert "fields[phone]" in error.message
    assert "'phone' names 2 authorities" in error.message


def test_field_missing_from_schema(schemas_copy: Path) -> None:
    error = _load_with(
        schemas_copy,
        PHONE,
        PHONE + "\n      - {name: nickname, authority: PSB, sharing: conditional}",
    )
    assert "BR-PERSON.nickname: not a field of schema person_changed" in error.message


def test_topic_without_schema(schemas_copy: Path) -> None:
    error = _load_with(schemas_copy, "schema: person_changed", "schema: person_moved")
    assert "topic govbus.base.person has no schema 'person_moved'" in error.message


def test_schema_field_without_authority(schemas_copy: Path) -> None:
    error = _load_with(schemas_copy, "      - " + PHONE + "\n", "")
    assert "schema fields with no authority: phone" in error.message
