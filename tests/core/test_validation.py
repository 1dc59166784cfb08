from pathlib import Path

import pytest

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
    certificate_key,
    load_contract,
    validate_event,
)
from govbus._catalog import Catalog

ID = "11010519491231002X"
USCC = "91110000600037341L"
MARRIAGE = "11100000000000000B"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_contract(Settings(schemas_dir=Path(__file__).parents[2] / "schemas")).catalog


def refusal(catalog: Catalog, event: object) -> GovbusError:
    with pytest.raises(GovbusError) as info:
        validate_event(catalog, event)  # type: ignore[arg-type]
    return info.value


def test_authoritative_fields_pass(catalog: Catalog) -> None:
    event = PersonChanged.upsert(
        department="CAB", key=ID, sequence=1, data=PersonData(marital_status="20")
    )
    assert validate_event(catalog, event).code == "BR-PERSON"


def test_field_from_another_department_is_refused_naming_field_and_authority(
    catalog: Catalog,
) -> None:
    event = PersonChanged.upsert(
        department="CAB", key=ID, sequence=1, data=PersonData(marital_status="20", name="x")
    )
    error = refusal(catalog, event)
    assert error.code is ErrorCode.NOT_AUTHORITATIVE
    assert error.field == "name"
    assert "PSB" in error.message


def test_only_the_key_authority_may_delete(catalog: Catalog) -> None:
    error = refusal(catalog, PersonChanged.delete(department="CAB", key=ID, sequence=1))
    assert error.code is ErrorCode.NOT_AUTHORITATIVE


def test_unknown_department_is_refused(catalog: Catalog) -> None:
    event = PersonChanged.upsert(department="XYZ", key=ID, sequence=1, data=PersonData(name="x"))
    assert refusal(catalog, event).code is ErrorCode.UNKNOWN_DEPARTMENT


def test_invalid_identity_number_is_refused_without_echoing_it(catalog: Catalog) -> None:
    bad = "110105194912310021"
    event = PersonChanged.upsert(department="PSB", key=bad, sequence=1, data=PersonData(name="x"))
    error = refusal(catalog, event)
    assert error.code is ErrorCode.INVALID_IDENTIFIER
    assert bad not in str(error) and bad not in repr(error.to_dict())


@pytest.mark.parametrize("written", [ID.lower(), f" {ID}", f"{ID}\n"])
def test_identifiers_must_be_in_normal_form(catalog: Catalog, written: str) -> None:
    # A valid number written otherwise would be another key in Kafka and in the store.
    assert written.strip().upper() == ID
    event = PersonChanged.upsert(
        department="PSB", key=written, sequence=1, data=PersonData(name="x")
    )
    error = refusal(catalog, event)
    assert (error.code, error.field) == (ErrorCode.INVALID_IDENTIFIER, "entity_key")
    assert "normal form" in error.message and ID not in str(error)
    company = LegalEntityChanged.upsert(
        department="AMR", key=USCC.lower(), sequence=1, data=LegalEntityData(name="x")
    )
    assert refusal(catalog, company).code is ErrorCode.INVALID_IDENTIFIER


def test_legal_entity_with_bad_check_character_is_refused(catalog: Catalog) -> None:
    event = LegalEntityChanged.upsert(
        department="AMR", key=USCC[:-1] + "M", sequence=1, data=LegalEntityData(name="x")
    )
    assert refusal(catalog, event).code is ErrorCode.INVALID_IDENTIFIER


def test_tax_rating_comes_from_tax_only(catalog: Catalog) -> None:
    ok = LegalEntityChanged.upsert(
        department="TAX", key=USCC, sequence=1, data=LegalEntityData(tax_credit_rating="A")
    )
    assert validate_event(catalog, ok).code == "BR-LEGAL-ENTITY"
    wrong = LegalEntityChanged.upsert(
        department="AMR", key=USCC, sequence=1, data=LegalEntityData(tax_credit_rating="A")
    )
    assert refusal(catalog, wrong).field == "tax_credit_rating"


def test_certificate_resource_follows_licence_type(catalog: Catalog) -> None:
    event = CertificateChanged.upsert(
        department="CAB",
        key=certificate_key(MARRIAGE, "M-1"),
        sequence=1,
        data=CertificateData(holder_id=ID, holder_type="person", status="valid"),
    )
    assert validate_event(catalog, event).code == "EC-MARRIAGE"
    by_amr = event.model_copy(update={"source_department": "AMR"})
    assert refusal(catalog, by_amr).code is ErrorCode.NOT_AUTHORITATIVE


def test_certificate_of_unknown_licence_type_is_unknown_resource(catalog: Catalog) -> None:
    event = CertificateChanged.upsert(
        department="CAB", key="999:1", sequence=1, data=CertificateData(status="valid")
    )
    assert refusal(catalog, event).code is ErrorCode.UNKNOWN_RESOURCE


def test_certificate_holder_must_be_a_valid_identifier(catalog: Catalog) -> None:
    event = CertificateChanged.upsert(
        department="CAB",
        key=certificate_key(MARRIAGE, "M-2"),
        sequence=1,
        data=CertificateData(holder_id="123", holder_type="person"),
    )
    error = refusal(catalog, event)
    assert (error.code, error.field) == (ErrorCode.INVALID_IDENTIFIER, "holder_id")


def test_empty_upsert_is_refused(catalog: Catalog) -> None:
    event = PersonChanged.upsert(department="PSB", key=ID, sequence=1, data=PersonData())
    assert refusal(catalog, event).code is ErrorCode.SCHEMA_MISMATCH
