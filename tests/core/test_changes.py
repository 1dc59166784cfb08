from datetime import date
from uuid import UUID

import pytest
from pydantic import ValidationError

from govbus import CertificateChanged, CertificateData, PersonChanged, PersonData, certificate_key

ID = "11010519491231002X"


def test_changed_fields_are_the_fields_given() -> None:
    event = PersonChanged.upsert(
        department="PSB", key=ID, sequence=3, data=PersonData(name="张三", phone=None)
    )
    assert event.changed_fields == ("name", "phone")
    assert event.changed_values() == {"name": "张三", "phone": None}
    assert event.operation == "UPSERT"
    assert isinstance(event.event_id, UUID)


def test_untouched_fields_are_not_changed_values() -> None:
    event = PersonChanged.upsert(
        department="PSB", key=ID, sequence=1, data=PersonData(birth_date=date(1949, 12, 31))
    )
    assert "phone" not in event.changed_values()
    assert event.to_avro()["data"]["phone"] is None


def test_avro_round_trip_keeps_every_field() -> None:
    event = CertificateChanged.upsert(
        department="AMR",
        key=certificate_key("11100000000000000A", "L-1"),
        sequence=9,
        data=CertificateData(valid_to=date(2030, 1, 1), attributes={"scope": "retail"}),
    )
    assert CertificateChanged.from_avro(event.to_avro()) == event
    assert event.licence_type_code == "11100000000000000A"


def test_delete_has_no_data() -> None:
    event = PersonChanged.delete(department="PSB", key=ID, sequence=2)
    assert event.data is None and event.changed_fields == ()
    assert event.to_avro()["data"] is None


def test_unknown_data_field_is_refused() -> None:
    with pytest.raises(ValidationError):
        PersonData.model_validate({"nickname": "x"})


def test_naive_timestamps_become_utc() -> None:
    from datetime import datetime

    event = PersonChanged.upsert(
        department="PSB",
        key=ID,
        sequence=1,
        data=PersonData(name="x"),
        occurred_at=datetime(2026, 1, 1, 8, 0),
    )
    assert event.occurred_at.utcoffset() is not None
