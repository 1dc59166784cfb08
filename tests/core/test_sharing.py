"""The sharing policy decides every delivered field from the catalog alone."""

from __future__ import annotations

import re

import pytest

from govbus import (
    Catalog,
    DisclosureKind,
    Sensitivity,
    Settings,
    SharingType,
    field_disclosure,
    grant_disclosure,
    load_contract,
    request_verdict,
)
from govbus._sharing import WITHHELD_NOT_GRANTED, WITHHELD_NOT_IN_CATALOG, WITHHELD_NOT_SHARED


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


# --- grants: one table of sharing types x grant field sets x masks -------------------------

_REQUESTS = [
    # resource, fields asked, outcome, fields that decided it
    ("BR-LEGAL-ENTITY", ["name", "status"], "approved", ()),
    ("BR-LEGAL-ENTITY", ["name", "tax_credit_rating"], "pending", ("tax_credit_rating",)),
    ("BR-PERSON", ["name"], "pending", ("id_number", "name")),
    ("BR-PERSON", ["name", "phone"], "refused", ("phone",)),
    ("BR-PERSON", ["nickname"], "refused", ("nickname",)),
    ("BR-LEGAL-ENTITY", [], "approved", ()),
]


@pytest.mark.parametrize(("code", "fields", "outcome", "deciding"), _REQUESTS)
def test_a_request_is_approved_held_or_refused_by_its_fields_sharing_types(
    catalog: Catalog, code: str, fields: list[str], outcome: str, deciding: tuple[str, ...]
) -> None:
    verdict = request_verdict(catalog.resource(code), fields)
    assert verdict.outcome == outcome
    named = {
        "approved": (),
        "pending": verdict.conditional,
        "refused": verdict.not_shared + verdict.unknown,
    }[outcome]
    assert named == deciding


def test_a_grant_delivers_its_fields_masked_by_their_rules_and_withholds_the_rest(
    catalog: Catalog,
) -> None:
    person = catalog.resource("BR-PERSON")
    policy = grant_disclosure(person, ["name", "sex", "phone"])
    # phone is not shared: never delivered, even when a grant names it
    assert set(policy.delivered) == {"id_number", "name", "sex"}
    assert policy.disclosure("name").apply("张三丰") == "张**"
    assert policy.disclosure("id_number").apply("110105198503120020") == "110105********0020"
    # a granted personal field without a mask rule is delivered as stored
    assert policy.disclosure("sex").apply("1") == "1"
    assert policy.disclosure("phone").apply("13812345678") == WITHHELD_NOT_SHARED
    assert policy.disclosure("education").apply("21") == WITHHELD_NOT_GRANTED
    assert policy.disclosure("nickname").apply("x") == WITHHELD_NOT_IN_CATALOG
    assert "education" in policy.withheld and "phone" in policy.withheld
    assert not policy.reads_raw_topic


@pytest.mark.parametrize(
    ("code", "fields", "raw"),
    [
        ("BR-LEGAL-ENTITY", "every", False),  # legal_representative is masked
        ("BR-LEGAL-ENTITY", "every-unmasked", False),  # one field short of every field
        ("BR-PERSON", "every", False),  # phone is not shared
    ],
)
def test_only_a_grant_of_every_field_unmasked_may_read_the_raw_topic(
    catalog: Catalog, code: str, fields: str, raw: bool
) -> None:
    resource = catalog.resource(code)
    every = [f.name for f in resource.fields]
    if fields == "every-unmasked":
        every = [f.name for f in resource.fields if f.mask is None]
    assert grant_disclosure(resource, every).reads_raw_topic is raw


def test_a_resource_with_no_masks_granted_whole_reads_the_raw_topic(catalog: Catalog) -> None:
    legal = catalog.resource("BR-LEGAL-ENTITY")
    raw = legal.model_dump(exclude={"fields"})
    raw["schema"] = raw.pop("schema_name")
    raw["fields"] = [f.model_dump() | {"mask": None} for f in legal.fields]
    unmasked = type(legal).model_validate(raw)
    assert grant_disclosure(unmasked, [f.name for f in unmasked.fields]).reads_raw_topic
    assert not grant_disclosure(unmasked, ["name"]).reads_raw_topic


def test_grants_of_the_same_fields_share_a_view_signature(catalog: Catalog) -> None:
    person = catalog.resource("BR-PERSON")
    one = grant_disclosure(person, ["name", "sex"]).view_signature
    assert one == grant_disclosure(person, ["sex", "name", "phone"]).view_signature
    assert one != grant_disclosure(person, ["name"]).view_signature


def test_a_view_topic_is_named_by_resource_and_signature(catalog: Catalog) -> None:
    person = catalog.resource("BR-PERSON")
    topic = grant_disclosure(person, ["name", "sex"]).view_topic
    assert re.fullmatch(r"govbus\.view\.br-person\.[0-9a-f]{12}", topic)
    # phone is not shared: asking for it changes nothing delivered, hence not the view
    assert topic == grant_disclosure(person, ["sex", "name", "phone"]).view_topic
    assert topic != grant_disclosure(person, ["name"]).view_topic
    legal = catalog.resource("BR-LEGAL-ENTITY")
    assert grant_disclosure(legal, ["name"]).view_topic.startswith("govbus.view.br-legal-entity.")
