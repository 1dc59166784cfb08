from pathlib import Path

import pytest

from govbus import (
    Contract,
    ErrorCode,
    GovbusError,
    LegalEntityChanged,
    LegalEntityData,
    PersonChanged,
    PersonData,
    Settings,
    load_contract,
    pseudonymize,
    read_schema_id,
    validate_event,
)

ID = "11010519491231002X"
USCC = "91110000600037341L"


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract(Settings(schemas_dir=Path(__file__).parents[2] / "schemas"))


def person_event() -> PersonChanged:
    return PersonChanged.upsert(department="PSB", key=ID, sequence=1, data=PersonData(name="张三"))


def test_round_trip_through_confluent_wire_format(contract: Contract) -> None:
    event = person_event()
    resource = validate_event(contract.catalog, event)
    payload = contract.encode(resource, event)
    assert payload[0] == 0
    assert read_schema_id(payload) == contract.resolver.id_for(
        resource.subject, contract.latest_schema(resource)
    )
    assert contract.decode(resource.topic, payload) == event


def test_wrong_topic_is_named(contract: Contract) -> None:
    event = LegalEntityChanged.upsert(
        department="AMR", key=USCC, sequence=1, data=LegalEntityData(name="x")
    )
    payload = contract.encode(validate_event(contract.catalog, event), event)
    with pytest.raises(GovbusError) as info:
        contract.decode("govbus.base.person", payload)
    assert info.value.code is ErrorCode.WRONG_TOPIC


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"", ErrorCode.MALFORMED_PAYLOAD),
        (b"\x01\x00\x00\x00\x01abc", ErrorCode.MALFORMED_PAYLOAD),
        (b"\x00\x00\x00\x03\xe7abc", ErrorCode.UNKNOWN_SCHEMA),
    ],
)
def test_bad_payloads_get_a_code(contract: Contract, payload: bytes, code: ErrorCode) -> None:
    with pytest.raises(GovbusError) as info:
        contract.decode("govbus.base.person", payload)
    assert info.value.code is code


def test_truncated_and_padded_bodies_are_malformed(contract: Contract) -> None:
    event = person_event()
    payload = contract.encode(validate_event(contract.catalog, event), event)
    for broken in (payload[:-3], payload + b"\x00\x00"):
        with pytest.raises(GovbusError) as info:
            contract.decode("govbus.base.person", broken)
        assert info.value.code is ErrorCode.MALFORMED_PAYLOAD


def test_person_keys_are_pseudonyms(contract: Contract) -> None:
    key = contract.record_key(person_event())
    assert ID.encode() not in key
    assert key == pseudonymize(ID, contract.pseudonym_key).encode()
    other = load_contract(
        Settings(
            schemas_dir=Path(__file__).parents[2] / "schemas",
            pseudonym_key="another-secret",  # type: ignore[arg-type]
        )
    )
    assert other.record_key(person_event()) != key


def test_legal_entity_keys_are_the_uscc(contract: Contract) -> None:
    event = LegalEntityChanged.upsert(
        department="AMR", key=USCC, sequence=1, data=LegalEntityData(name="x")
    )
    assert contract.record_key(event) == USCC.encode()


@pytest.mark.parametrize("key", [b"", b"k", b"k" * 64, b"k" * 65, bytes(range(200))])
def test_pseudonymizer_matches_hmac_sha256(key: bytes) -> None:
    from govbus._identifiers import Pseudonymizer

    for value in ("", ID, "张三" * 50):
        assert Pseudonymizer(key)(value) == pseudonymize(value, key)
