"""USCC (GB 32100) including N and Y registration authorities, citizen ids, masking."""

from __future__ import annotations

import pytest

from govbus import (
    ErrorCode,
    GovbusError,
    is_valid_citizen_id,
    is_valid_uscc,
    mask,
    validate_citizen_id,
    validate_uscc,
)
from govbus._identifiers import USCC_ALPHABET, uscc_check_character


def _uscc(first17: str) -> str:
    return first17 + uscc_check_character(first17)


@pytest.mark.parametrize(
    "first17",
    [
        "91350100M000100Y4",  # market regulation, enterprise
        "N2110000MA0000000",  # agriculture (N), refused by python-stdnum 2.2
        "Y1110000MA0000000",  # other registration authority (Y)
        "51110000500000001",  # civil affairs
    ],
)
def test_valid_usccs_are_accepted_including_n_and_y(first17: str) -> None:
    code = _uscc(first17)
    assert is_valid_uscc(code)
    assert validate_uscc(code.lower()) == code


def test_known_real_uscc_passes() -> None:
    assert is_valid_uscc("91350100M000100Y43")


@pytest.mark.parametrize("first17", ["N2110000MA0000000", "Y1110000MA0000000"])
def test_wrong_check_character_is_refused(first17: str) -> None:
    right = uscc_check_character(first17)
    for wrong in (c for c in USCC_ALPHABET if c != right):
        assert not is_valid_uscc(first17 + wrong)


def test_invalid_uscc_error_names_field_not_value() -> None:
    bad = "91350100M000100Y44"
    with pytest.raises(GovbusError) as refused:
        validate_uscc(bad, field="issuer_uscc")
    assert refused.value.code is ErrorCode.INVALID_IDENTIFIER
    assert refused.value.field == "issuer_uscc"
    assert bad not in str(refused.value)


@pytest.mark.parametrize("bad", ["", "Z1110000MA00000000", "91350100M000100Y4", "I" * 18])
def test_malformed_usccs_are_refused(bad: str) -> None:
    assert not is_valid_uscc(bad)


def test_citizen_ids() -> None:
    assert is_valid_citizen_id("11010519491231002X")
    assert validate_citizen_id("11010519491231002x") == "11010519491231002X"
    assert not is_valid_citizen_id("110105194912310021")  # wrong check digit
    with pytest.raises(GovbusError) as refused:
        validate_citizen_id("110105194912310021")
    assert "110105194912310021" not in str(refused.value)
    assert refused.value.field == "id_number"


def test_masking_keeps_first_and_last() -> None:
    assert mask("11010519491231002X", 6, 4) == "110105********002X"
    assert mask("13912345678", 3, 4) == "139****5678"
    assert mask("张三丰", 1, 0) == "张**"
    assert mask("ab", 6, 4) == "a*"
