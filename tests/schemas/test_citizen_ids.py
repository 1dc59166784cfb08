"""GB 11643 identity numbers: every number the standard allows, and only those.

The rule: the check character is right; the birth date is a real date, not in the future;
the address code was in force at some time between the birth year and today (the number
carries the code of the county where it was issued, which may be newer than the birth).
Check characters are computed here with the standard's own algorithm (ISO 7064 MOD 11-2).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
import stdnum
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

import govbus._identifiers as identifiers
from govbus import (
    ErrorCode,
    GovbusError,
    address_code_spans,
    is_valid_citizen_id,
    today_in_china,
    validate_citizen_id,
)

# GB 11643-1999 section 7: weights 2^(17 - i) mod 11, check = (12 - sum mod 11) mod 11.
WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]


def check_character(first17: str) -> str:
    remainder = (12 - sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11) % 11
    return "X" if remainder == 10 else str(remainder)


def number(code: int, born: date, serial: int = 1) -> str:
    first17 = f"{code:06d}{born:%Y%m%d}{serial:03d}"
    return first17 + check_character(first17)


def test_the_check_character_is_the_standards() -> None:
    # The worked example of GB 11643-1999 (annex A): 11010519491231002X.
    assert number(110105, date(1949, 12, 31), 2) == "11010519491231002X"


# Lines of stdnum's cn/loc.dat, under `11 province="北京市"` etc.
LOC_DAT_LINES = {
    110112: '0112 county="[1997-]通州区"',  # Tongzhou: a county until 1997, then a district
    110118: '0118 county="[2015-]密云区"',
    110103: '0103 county="[-2010]崇文区"',  # merged into Dongcheng in 2010
    110110: '0110 county="[-1986]燕山区"',
    120110: '0110 county="[-1991]东郊区,[1992-]东丽区"',  # renamed: one code, always in force
    330502: '0502 county="[1983-1987]城区,[2003-]吴兴区"',  # a gap from 1988 to 2002
}


def test_the_table_is_built_from_loc_dat() -> None:
    loc_dat = (Path(stdnum.__file__).parent / "cn" / "loc.dat").read_text(encoding="utf-8")
    for line in LOC_DAT_LINES.values():
        assert f"\n  {line}\n" in loc_dat, line
    spans = address_code_spans()
    assert spans[110112] == (1997, 9999)
    assert spans[110118] == (2015, 9999)
    assert spans[110103] == (0, 2010)
    assert spans[110110] == (0, 1986)
    assert spans[120110] == (0, 9999)
    assert spans[330502] == (1983, 9999)
    assert address_code_spans() is spans  # built once


@pytest.mark.parametrize(
    ("code", "born"),
    [
        (110112, date(1988, 3, 1)),  # born 1988, number issued by the district created 1997
        (110112, date(1960, 1, 1)),
        (110118, date(1980, 7, 31)),  # Miyun district, 2015
        (330502, date(1995, 5, 5)),  # born in the gap, the code came back in 2003
        (110103, date(2010, 12, 31)),  # retired in 2010, so still in force in the birth year
        (110103, date(1950, 1, 1)),
        (120110, date(1975, 2, 28)),
    ],
)
def test_codes_in_force_at_some_time_from_the_birth_year_on_are_accepted(
    code: int, born: date
) -> None:
    assert is_valid_citizen_id(number(code, born))


def test_the_birth_year_heuristic_refused_them() -> None:
    # python-stdnum asks whether the code existed in the birth year: real citizens refused.
    assert not ric.is_valid(number(110112, date(1988, 3, 1)))
    assert is_valid_citizen_id(number(110112, date(1988, 3, 1)))


@pytest.mark.parametrize(
    ("code", "born"),
    [
        (110103, date(2011, 1, 1)),  # Chongwen retired in 2010
        (110110, date(1987, 6, 1)),  # Yanshan retired in 1986
        (110199, date(1980, 1, 1)),  # no such county under Beijing
        (990101, date(1980, 1, 1)),  # no such province
    ],
)
def test_codes_retired_before_the_birth_year_or_unknown_are_refused(code: int, born: date) -> None:
    assert not is_valid_citizen_id(number(code, born))
    with pytest.raises(GovbusError) as refused:
        validate_citizen_id(number(code, born), field="holder_id")
    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID_IDENTIFIER, "holder_id")
    assert number(code, born) not in str(refused.value)


def test_every_wrong_check_character_is_refused() -> None:
    for code, born in [(110112, date(1988, 3, 1)), (110105, date(1949, 12, 31))]:
        right = number(code, born)
        for wrong in "0123456789X":
            if wrong != right[-1]:
                assert not is_valid_citizen_id(right[:-1] + wrong)
    assert validate_citizen_id("11010519491231002x") == "11010519491231002X"


@pytest.mark.parametrize("digits", ["19490230", "19491301", "19490100", "00000101"])
def test_birth_dates_must_be_real(digits: str) -> None:
    first17 = f"110105{digits}001"
    assert not is_valid_citizen_id(first17 + check_character(first17))


def test_birth_dates_in_the_future_are_refused() -> None:
    today = today_in_china()
    assert is_valid_citizen_id(number(110105, today))
    assert not is_valid_citizen_id(number(110105, today + timedelta(days=1)))
    assert not is_valid_citizen_id(number(110105, date(2099, 1, 1)))


def test_a_future_birth_date_becomes_valid_when_its_day_comes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Verdicts are cached, but not the part that depends on today."""
    born = today_in_china() + timedelta(days=3)
    monkeypatch.setattr(identifiers, "today_in_china", lambda: born - timedelta(days=1))
    assert not is_valid_citizen_id(number(110105, born, 7))
    monkeypatch.setattr(identifiers, "today_in_china", lambda: born)
    assert is_valid_citizen_id(number(110105, born, 7))


def stdnum_in_force(code: int, year: int) -> bool:
    """stdnum's own reading of loc.dat: was the code in force in that year?"""
    try:
        ric.get_birth_place(f"{code:06d}{year:04d}0101000")
    except (ValidationError, KeyError):  # KeyError: a province without that county
        return False
    return True


CODES = sorted(address_code_spans())


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(CODES) | st.integers(min_value=110000, max_value=829999),
    st.integers(min_value=1900, max_value=today_in_china().year),
)
def test_the_table_says_what_stdnum_says_year_by_year(code: int, birth_year: int) -> None:
    """In force at some time from the birth year to today, by stdnum's per-year answers
    (the slow way the table replaces)."""
    this_year = today_in_china().year
    expected = any(stdnum_in_force(code, year) for year in range(birth_year, this_year + 1))
    born = date(birth_year, 1, 1)
    assert is_valid_citizen_id(number(code, born)) == expected
