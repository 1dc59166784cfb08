"""The sharing policy decides every delivered field from the catalog alone."""

from __future__ import annotations

import pytest

from govbus import (
    Catalog,
    DisclosureKind,
    Sensitivity,
    Settings,
    SharingType,
    field_disclosure,
    load_contract,
)
from govbus._sharing import WITHHELD_NOT_IN_CATALOG, WITHHELD_NOT_SHARED


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_contract(Settings()).catalog


def test_a_not_shared_field_is_withheld_even_with_a_mask_rule(catalog: Catalog) -> None:
    person = catalog.resource("BR-PERSON")
    assert person.field("phone").mask is not None
    verdict = field_disclosure(person, "phone")
    assert verdict.kind is DisclosureKind.WITHHELD
    assert verdict.apply("13812345678") == WITHHELD_NOT_SHARED
    # Withheld says nothing about the value, not even whether there is one.
    assert verdict.apply("") == WITHHELD_NOT_SHARED


def test_the_marriage_certificates_attributes_are_withheld(catalog: Catalog) -> None:
    verdict = field_disclosure(catalog.resource("EC-MARRIAGE"), "attributes")
    assert verdict.apply('{"spouse_id_number": "110105198503120020"}') == WITHHELD_NOT_SHARED


def test_a_personal_field_without_a_mask_rule_is_masked_in_full(catalog: Catalog) -> None:
    marriage = catalog.resource("EC-MARRIAGE")
    assert marriage.field("licence_number").mask is None
    assert field_disclosure(marriage, "licence_number").apply("J110105-2020") == "*" * 12
    person = catalog.resource("BR-PERSON")
    assert person.field("ethnicity").sensitivity is Sensitivity.SENSITIVE
    assert field_disclosure(person, "ethnicity").apply("01") == "**"


def test_a_mask_rule_applies_and_public_fields_show(catalog: Catalog) -> None:
    person = catalog.resource("BR-PERSON")
    assert field_disclosure(person, "id_number").apply("110105198503120020") == (
        "110105********0020"
    )
    assert field_disclosure(person, "name").apply("张三丰") == "张**"
    legal = catalog.resource("BR-LEGAL-ENTITY")
    assert field_disclosure(legal, "status").apply("active") == "active"


def test_a_field_the_catalog_does_not_know_is_withheld(catalog: Catalog) -> None:
    verdict = field_disclosure(catalog.resource("BR-PERSON"), "shoe_size")
    assert verdict.apply("44") == WITHHELD_NOT_IN_CATALOG


def test_unmasked_shows_every_value_as_stored(catalog: Catalog) -> None:
    person = catalog.resource("BR-PERSON")
    for name in ("phone", "ethnicity", "id_number", "shoe_size"):
        assert field_disclosure(person, name, unmasked=True).apply("v1") == "v1"


def test_no_field_of_the_catalog_leaves_private_and_unmasked(catalog: Catalog) -> None:
    for resource in catalog.resources:
        for spec in (resource.key, *resource.fields):
            verdict = field_disclosure(resource, spec.name)
            if spec.sharing is SharingType.NOT_SHARED:
                assert verdict.kind is DisclosureKind.WITHHELD, (resource.code, spec.name)
            elif spec.sensitivity in (Sensitivity.PERSONAL, Sensitivity.SENSITIVE):
                assert verdict.kind is DisclosureKind.MASKED, (resource.code, spec.name)
                assert verdict.apply("abcdefghijklmnopqr") != "abcdefghijklmnopqr"
