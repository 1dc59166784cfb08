"""GB/T 21063.3 core metadata in the catalog: present for every resource and validated."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from govbus import ErrorCode, GovbusError, SchemaRepository, load_catalog


def _refused(schemas: Path, old: str, new: str, count: int = 1) -> str:
    catalog = schemas / "catalog.yaml"
    text = catalog.read_text(encoding="utf-8")
    assert old in text, old
    catalog.write_text(text.replace(old, new, count), encoding="utf-8")
    with pytest.raises(GovbusError) as refused:
        load_catalog(catalog, SchemaRepository(schemas / "avro"))
    assert refused.value.code is ErrorCode.INVALID_CATALOG
    return refused.value.message


def test_every_resource_carries_its_core_metadata(schemas_copy: Path) -> None:
    catalog = load_catalog(schemas_copy / "catalog.yaml")
    person = catalog.resource("BR-PERSON")
    assert person.provider == "PSB"
    assert person.metadata.resource_id == "BR01/000001"
    assert person.metadata.category.code == "BR01"
    assert person.metadata.published == dt.date(2026, 1, 5)
    assert "户籍" in person.metadata.keywords
    assert person.metadata.maintainer == "DATA"
    assert {s.delivery for s in person.metadata.services} == {"kafka", "http", "lookup"}
    assert catalog.resource("EC-REAL-ESTATE").provider == "HOUSING"
    ids = [r.metadata.resource_id for r in catalog.resources]
    assert len(set(ids)) == len(ids) == 7


def test_a_provider_that_is_not_a_department(schemas_copy: Path) -> None:
    message = _refused(schemas_copy, "    provider: PSB\n", "    provider: POLICE\n")
    assert "resources[BR-PERSON].provider: 'POLICE' is not a department" in message


def test_a_maintainer_that_is_not_a_department(schemas_copy: Path) -> None:
    message = _refused(schemas_copy, "      maintainer: DATA\n", "      maintainer: NOBODY\n")
    assert "resources[BR-PERSON].metadata.maintainer: 'NOBODY' is not a department" in message


def test_missing_metadata_element_is_named(schemas_copy: Path) -> None:
    message = _refused(schemas_copy, "      metadata_id: govbus.md.br-person\n", "")
    assert "resources[BR-PERSON].metadata.metadata_id: Field required" in message


def test_resource_without_metadata(schemas_copy: Path) -> None:
    message = _refused(
        schemas_copy,
        "    metadata:\n      resource_id: BR02/",
        "    extra:\n      resource_id: BR02/",
    )
    assert "resources[BR-LEGAL-ENTITY].metadata: Field required" in message


def test_resource_identifier_shape_and_category(schemas_copy: Path) -> None:
    message = _refused(schemas_copy, "resource_id: BR01/000001", "resource_id: BR01-1")
    assert "resources[BR-PERSON].metadata.resource_id" in message
    message = _refused(schemas_copy, "resource_id: BR01-1", "resource_id: BR02/000009")
    assert "resources[BR-PERSON].metadata: resource_id front code 'BR02'" in message


def test_duplicate_identifiers(schemas_copy: Path) -> None:
    message = _refused(schemas_copy, "resource_id: EC01/000002", "resource_id: EC01/000001")
    assert "resources[EC-MARRIAGE].metadata.resource_id: 'EC01/000001' is already" in message
    assert "EC-BUSINESS-LICENCE" in message


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("published: 2026-01-05", "published: 2026-13-05", "BR-PERSON].metadata.published"),
        ("published: 2026-01-05", "published: 2026-02-30", "BR-PERSON].metadata.published"),
        ("published: 2026-01-05", "published: 2026-12-01", "updated (元数据更新日期) is before"),
        ("published: 2026-01-05", "published: soon", "resources[BR-PERSON].metadata.published"),
        ("keywords: [人口, 身份, 户籍, 婚姻, 学历]", "keywords: []", "metadata.keywords"),
        ("keywords: [人口, 身份, 户籍, 婚姻, 学历]", "keywords: [人口, 人口]", "listed twice"),
        (
            "online_link: https://govbus.example.gov.cn/v1/catalog/BR-PERSON",
            "online_link: ftp://example",
            "resources[BR-PERSON].metadata.online_link: must be an http(s) URL",
        ),
        ("category: {code: BR01, name:", "category: {code: br-1, name:", "category.code"),
        (
            "{delivery: http, address:",
            "{delivery: email, address:",
            "metadata.services[1].delivery: Input should be",
        ),
    ],
)
def test_bad_metadata_elements_are_named(
    schemas_copy: Path, old: str, new: str, expected: str
) -> None:
    assert expected in _refused(schemas_copy, old, new)


def test_kafka_service_names_the_resource_topic(schemas_copy: Path) -> None:
    message = _refused(
        schemas_copy,
        "{delivery: kafka, address: govbus.base.person}",
        "{delivery: kafka, address: govbus.base.people}",
    )
    assert "resources[BR-PERSON].metadata.services[kafka].address" in message
