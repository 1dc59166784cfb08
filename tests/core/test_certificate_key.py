"""Certificate keys have one parser (`govbus.CertificateKey`), used wherever a key is read."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govbus import (
    CertificateChanged,
    CertificateData,
    CertificateKey,
    ErrorCode,
    GovbusError,
    Settings,
    certificate_key,
    load_catalog,
    validate_event,
)
from govbus.consumers.testing import MARRIAGE

NUMBER = "110105194912310021"  # a certificate number can be personal data


def test_a_key_splits_at_its_first_colon() -> None:
    assert CertificateKey.parse(f"{MARRIAGE}:京民123") == (MARRIAGE, "京民123")
    key = CertificateKey.parse("A:b:c")
    assert (key.licence_type_code, key.licence_number) == ("A", "b:c")


@pytest.mark.parametrize("text", ["", NUMBER, f":{NUMBER}", f"{MARRIAGE}:", ":"])
def test_what_is_not_a_key_is_an_invalid_identifier_that_never_repeats_it(text: str) -> None:
    with pytest.raises(GovbusError) as info:
        CertificateKey.parse(text, field="holder_key")
    error = info.value
    assert (error.code, error.field) == (ErrorCode.INVALID_IDENTIFIER, "holder_key")
    assert "<licence type code>:<licence number>" in error.message
    assert NUMBER not in str(error) and NUMBER not in error.message


@pytest.mark.parametrize(
    ("type_code", "number", "field"),
    [
        ("", "1", "licence_type_code"),
        ("A:B", "1", "licence_type_code"),
        ("A", "", "licence_number"),
    ],
)
def test_format_refuses_what_parse_would_not_read_back(
    type_code: str, number: str, field: str
) -> None:
    with pytest.raises(GovbusError) as info:
        CertificateKey(type_code, number).format()
    assert (info.value.code, info.value.field) == (ErrorCode.INVALID_IDENTIFIER, field)


@given(
    type_code=st.text(min_size=1).filter(lambda t: ":" not in t),
    number=st.text(min_size=1),
)
def test_format_and_parse_are_inverses(type_code: str, number: str) -> None:
    key = CertificateKey(type_code, number)
    assert CertificateKey.parse(key.format()) == key
    assert str(key) == key.format() == certificate_key(type_code, number)


def test_an_event_whose_key_is_not_a_certificate_key_is_refused_as_such() -> None:
    catalog = load_catalog(Settings().schemas_dir / "catalog.yaml")
    event = CertificateChanged.upsert(
        department="CAB", key=NUMBER, sequence=1, data=CertificateData(status="valid")
    )
    with pytest.raises(GovbusError) as info:
        validate_event(catalog, event)
    assert (info.value.code, info.value.field) == (ErrorCode.INVALID_IDENTIFIER, "entity_key")
    assert NUMBER not in info.value.message
    good = event.model_copy(update={"entity_key": certificate_key(MARRIAGE, "M-1")})
    assert good.licence_type_code == MARRIAGE
    assert validate_event(catalog, good).code == "EC-MARRIAGE"
