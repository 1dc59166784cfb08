"""One rule for text the base store cannot hold: NUL characters and lone surrogates."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from govbus import (
    CertificateChanged,
    CertificateData,
    ErrorCode,
    GovbusError,
    LegalEntityChanged,
    LegalEntityData,
    PersonChanged,
    PersonData,
    Settings,
    check_storable_text,
    load_contract,
    schema_mismatch,
    unstorable_part,
    validate_event,
)

CATALOG = load_contract(Settings()).catalog
ID = "11010519491231002X"
USCC = "91110000600037341L"


def refusal(event: Any) -> GovbusError:
    with pytest.raises(GovbusError) as info:
        check_storable_text(event)
    return info.value


@pytest.mark.parametrize(
    "text", ["\x00", "a\x00", "北京\x00市", "\ud800", "x\udfff", "\ud83d\ude00", "长" * 50 + "\x00"]
)
def test_nul_and_surrogates_are_unstorable(text: str) -> None:
    assert unstorable_part(text) is not None


@pytest.mark.parametrize(
    "text", ["", "abc", "北京市海淀区", "😀", "\x01\x7f", "\ufffd", "\U0010ffff"]
)
def test_everything_else_is_storable(text: str) -> None:
    assert unstorable_part(text) is None


@given(st.text(alphabet=st.characters(codec="utf-8")))
def test_the_rule_is_exactly_what_utf8_and_postgresql_text_take(text: str) -> None:
    # Any str that encodes to UTF-8 is storable unless it holds a NUL.
    assert (unstorable_part(text) is None) == ("\x00" not in text)


@given(st.text(alphabet=st.characters(min_codepoint=0xD000, max_codepoint=0xE000)))
def test_any_surrogate_code_point_is_unstorable(text: str) -> None:
    try:
        text.encode("utf-8")
        encodable = True
    except UnicodeEncodeError:
        encodable = False
    assert (unstorable_part(text) is None) == encodable


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (
            PersonChanged.upsert(
                department="PSB", key=ID, sequence=1, data=PersonData(name="a\x00")
            ),
            "name",
        ),
        (
            PersonChanged.upsert(
                department="PSB", key=ID, sequence=1, data=PersonData(household_address="\udc80")
            ),
            "household_address",
        ),
        (
            LegalEntityChanged.upsert(
                department="AMR",
                key=USCC,
                sequence=1,
                data=LegalEntityData(name="ok", business_scope="x\x00y"),
            ),
            "business_scope",
        ),
        (
            CertificateChanged.upsert(
                department="CAB",
                key="11100000000000000B:M\x001",
                sequence=1,
                data=CertificateData(status="valid"),
            ),
            "entity_key",
        ),
        (
            CertificateChanged.upsert(
                department="CAB",
                key="11100000000000000B:M1",
                sequence=1,
                data=CertificateData(attributes={"spouse_name": "李\x00四"}),
            ),
            "attributes",
        ),
        (
            CertificateChanged.upsert(
                department="CAB",
                key="11100000000000000B:M1",
                sequence=1,
                data=CertificateData(attributes={"key\ud800": "value"}),
            ),
            "attributes",
        ),
        (PersonChanged.delete(department="PS\x00B", key=ID, sequence=1), "source_department"),
    ],
)
def test_the_field_is_named_never_the_value(event: Any, field: str) -> None:
    error = refusal(event)
    assert (error.code, error.field) == (ErrorCode.UNSTORABLE_TEXT, field)
    assert "李" not in error.message and "spouse_name" not in error.message
    # validate_event (the sync's re-validation) runs the same check.
    with pytest.raises(GovbusError) as info:
        validate_event(CATALOG, event)
    assert (info.value.code, info.value.field) == (ErrorCode.UNSTORABLE_TEXT, field)


def test_storable_events_pass() -> None:
    check_storable_text(
        CertificateChanged.upsert(
            department="CAB",
            key="11100000000000000B:M1",
            sequence=1,
            data=CertificateData(attributes={"spouse_name": "李四"}, status="valid"),
        )
    )
    check_storable_text(PersonChanged.delete(department="PSB", key=ID, sequence=1))


@pytest.mark.postgres
def test_postgresql_refuses_exactly_what_the_rule_refuses(pg_database: str) -> None:
    """The rule is PostgreSQL's: a NUL is refused there, every other character is kept."""
    with psycopg.connect(pg_database) as conn:
        conn.execute("CREATE TEMP TABLE texts (value text)")
        conn.execute("INSERT INTO texts VALUES (%s)", ["\x01北京\U0010ffff\ufffd"])
        with pytest.raises(psycopg.DataError):
            conn.execute("INSERT INTO texts VALUES (%s)", ["a\x00b"])


def test_pydantic_refusing_a_lone_surrogate_gives_the_same_code() -> None:
    # A constrained str field (entity_key has a minimum length) is read by pydantic itself.
    with pytest.raises(ValidationError) as invalid:
        PersonChanged(entity_key="1101\ud800", source_department="PSB", source_sequence=1)
    error = schema_mismatch(invalid.value, "event")
    assert (error.code, error.field) == (ErrorCode.UNSTORABLE_TEXT, "entity_key")
    assert "1101" not in error.message
