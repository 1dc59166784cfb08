"""The native fast path decides exactly as the Python checks do, or leaves it to them.

For any event, valid or not: the publisher with native paths and the pure-Python
publisher give the same record, or refuse with the same code and field. And the fast
path really is taken for valid events in normal form.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from govbus import (
    CertificateChanged,
    CertificateData,
    ChangeEvent,
    Contract,
    GovbusError,
    LegalEntityChanged,
    LegalEntityData,
    PersonChanged,
    PersonData,
    Settings,
    address_code_spans,
    is_valid_citizen_id,
    load_contract,
    today_in_china,
)
from govbus._identifiers import uscc_check_character
from govbus.producers import OutgoingRecord, Publisher
from govbus.producers._fast_path import build_fast_path
from govbus.producers.testing import InMemoryProducer

pytestmark = pytest.mark.skipif(
    os.environ.get("GOVBUS_NATIVE") == "0", reason="native paths switched off"
)


@pytest.fixture(scope="module")
def python_contract() -> Contract:
    """A contract loaded with the native paths off: pure-Python encoders and checks."""
    python_only = load_contract(Settings(native=False))
    assert not python_only.native
    return python_only


def outcome(publisher: Publisher, event: ChangeEvent[Any], traceparent: str | None) -> Any:
    try:
        return publisher.prepare(event, traceparent=traceparent)
    except GovbusError as exc:
        return (exc.code, exc.field)


# -- events: valid and invalid, in and out of normal form ------------------------------

serials = st.integers(min_value=0, max_value=999)


@st.composite
def citizen_ids(draw: st.DrawFn) -> str:
    # 110112 in force from 1997, 110103 until 2010: both sides of the address-code rule.
    area = draw(st.sampled_from(["110105", "310104", "999999", "440300", "110112", "110103"]))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 12, 31)))
    body = f"{area}{born:%Y%m%d}{draw(serials):03d}"
    number = body + ric.calc_check_digit(body + "0")
    return str(
        draw(
            st.sampled_from(
                [
                    number,
                    number,
                    number,
                    number,
                    number.lower(),
                    f" {number}",
                    number[:-1] + ("0" if number[-1] != "0" else "1"),
                    body[:10] + "1332" + body[14:] + "0",
                    number[:17],
                ]
            )
        )
    )


@st.composite
def credit_codes(draw: st.DrawFn) -> str:
    body = draw(st.sampled_from(["9", "5", "N", "Y", "0"])) + draw(
        st.from_regex(r"\A[1-9]{1}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{9}\Z")
    )
    code = body + uscc_check_character(body)
    return str(
        draw(st.sampled_from([code, code, code, code, code.lower(), code[:-1] + "I", code[:17]]))
    )


moments = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(-timedelta(seconds=1))]),
)
texts = st.none() | st.text(max_size=20)


def upsert_or_delete(
    cls: type[ChangeEvent[Any]],
    key: Any,
    data: Any,
    authority: str,
    owned: list[str],
    foreign: list[str],
    values: Any = texts,
) -> st.SearchStrategy[ChangeEvent[Any]]:
    """Mostly events the authority may send (the fast path's case), the rest anything."""

    def build(
        department: str, key: str, chosen: list[str], when: datetime, delete: bool, values: Any
    ) -> ChangeEvent[Any]:
        if delete:
            return cls.delete(department=department, key=key, sequence=3)
        return cls.upsert(
            department=department,
            key=key,
            sequence=7,
            occurred_at=when,
            data=data(**{name: values for name in chosen}) if chosen else data(),
        )

    return st.builds(
        build,
        st.sampled_from([authority] * 4 + ["PSB", "CAB", "AMR", "TAX"]),
        key,
        st.lists(st.sampled_from(owned), unique=True, min_size=1, max_size=3)
        | st.lists(st.sampled_from(owned + foreign), unique=True, max_size=3)
        | st.builds(lambda some, one: [*some, one], st.just(owned[:1]), st.sampled_from(foreign))
        if foreign
        else st.lists(st.sampled_from(owned), unique=True, max_size=3),
        moments,
        st.sampled_from([False, False, False, True]),
        values,
    )


any_event = st.one_of(
    upsert_or_delete(
        PersonChanged,
        citizen_ids(),
        PersonData,
        "PSB",
        ["name", "household_address", "residence_address"],
        ["marital_status", "education", "phone"],
    ),
    upsert_or_delete(
        LegalEntityChanged,
        credit_codes(),
        LegalEntityData,
        "AMR",
        ["name", "business_scope", "registration_authority"],
        ["legal_representative"],
    ),
    upsert_or_delete(
        CertificateChanged,
        st.just("11100000000000000A:91350100M000100Y43"),
        CertificateData,
        "AMR",
        ["status"],
        [],
        st.sampled_from([None, "valid", "revoked"]),
    ),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_event, st.sampled_from([None, "", "00-" + "a" * 32 + "-" + "b" * 16 + "-01"]))
def test_native_and_python_publishers_agree(
    contract: Contract, python_contract: Contract, event: ChangeEvent[Any], traceparent: Any
) -> None:
    department = event.source_department if event.source_department != "TAX" else "PSB"
    native = Publisher(department, Settings(), contract=contract, producer=InMemoryProducer())
    python = Publisher(
        department, Settings(), contract=python_contract, producer=InMemoryProducer()
    )
    assert outcome(native, event, traceparent) == outcome(python, event, traceparent)


@pytest.fixture(scope="module")
def psb_fast_path(contract: Contract) -> Any:
    fast = build_fast_path(contract, "PSB", 1_000_000)
    assert fast is not None
    return fast


ADDRESS_CODES = sorted(address_code_spans())


@st.composite
def identity_numbers(draw: st.DrawFn) -> str:
    """Normal-form numbers: mostly known codes, births from 1900 to a few days ahead, and
    right check characters; the rest unknown codes, impossible dates, wrong characters."""
    known = st.sampled_from(ADDRESS_CODES)
    code = draw(st.one_of(known, known, known, st.integers(min_value=0, max_value=999_999)))
    latest = (today_in_china() + timedelta(days=3)).toordinal()
    around = st.integers(min_value=date(1900, 1, 1).toordinal(), max_value=latest)
    near_today = st.integers(min_value=latest - 6, max_value=latest)
    first, last = address_code_spans().get(code, (1900, 9999))
    edges = [y for y in (first - 1, first, last, last + 1) if 1900 <= y <= 2100]
    at_an_edge = st.sampled_from(edges or [1900]).flatmap(
        lambda y: st.integers(date(y, 1, 1).toordinal(), date(y, 12, 31).toordinal())
    )
    born = draw(
        st.one_of(around, at_an_edge, near_today).map(lambda n: f"{date.fromordinal(n):%Y%m%d}")
        | st.integers(min_value=0, max_value=99_999_999).map(lambda n: f"{n:08d}")
    )
    first17 = f"{code:06d}{born}{draw(serials):03d}"
    right = ric.calc_check_digit(first17 + "0")
    return first17 + draw(st.sampled_from([right] * 11 + list("0123456789X")))


@settings(max_examples=200, deadline=None)
@given(st.lists(identity_numbers(), min_size=10, max_size=10))
def test_native_and_python_give_one_verdict_on_identity_numbers(
    psb_fast_path: Any, keys: list[str]
) -> None:
    for key in keys:
        event = PersonChanged.upsert(
            department="PSB", key=key, sequence=1, data=PersonData(name="x")
        )
        assert (psb_fast_path.prepare(event) is not None) == is_valid_citizen_id(key), key


def test_valid_events_in_normal_form_take_the_fast_path(contract: Contract) -> None:
    fast = build_fast_path(contract, "PSB", 1_000_000)
    assert fast is not None
    body = "11010519491231002"
    event = PersonChanged.upsert(
        department="PSB",
        key=body + ric.calc_check_digit(body + "0"),
        sequence=1,
        occurred_at=datetime(2024, 1, 1, 8, tzinfo=timezone(timedelta(hours=8))),
        data=PersonData(name="张三"),
    )
    parts = fast.prepare(event)
    assert parts is not None
    python = Publisher("PSB", Settings(), contract=contract, producer=InMemoryProducer())
    python._fast = None  # the Python checks, with the native record maker
    assert OutgoingRecord._make(parts) == python.prepare(event)
    # Anything the fast path is not sure of goes back to Python.
    assert fast.prepare(event.model_copy(update={"source_department": "CAB"})) is None
    assert fast.prepare(event.model_copy(update={"entity_key": body + "0"})) is None
    assert fast.prepare(event.model_copy(update={"changed_fields": ("phone",)})) is None
    assert fast.prepare(event.model_copy(update={"changed_fields": ()})) is None
