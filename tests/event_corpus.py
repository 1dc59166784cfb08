"""One corpus of change events for the Avro reader and writer tests: every schema, edge
values (a sequence near 2^62, long Chinese text, a leap-day time at +08:00, dates before
1970, a negative 16-digit decimal, explicit nulls, a delete, maps empty and long).

Departments and licence types come from the catalog, so every event is one the catalog
accepts (`tests/core/test_event_corpus.py` runs its validation on each).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from govbus import (
    CertificateChanged,
    CertificateData,
    ChangeEvent,
    EntityKind,
    LegalEntityChanged,
    LegalEntityData,
    PersonChanged,
    PersonData,
    Settings,
    certificate_key,
    load_catalog,
)

CATALOG = load_catalog(Settings().schemas_dir / "catalog.yaml")
_PERSON = CATALOG.resource_for_entity(EntityKind.PERSON, None)
_LEGAL_ENTITY = CATALOG.resource_for_entity(EntityKind.LEGAL_ENTITY, None)
_LICENCE = next(r for r in CATALOG.resources if r.entity is EntityKind.CERTIFICATE)
assert _LICENCE.licence_type_code is not None

PERSON_AUTHORITY = _PERSON.key.authority
DEATH_AUTHORITY = _PERSON.field("death_date").authority
COMPANY_AUTHORITY = _LEGAL_ENTITY.key.authority
RATING_AUTHORITY = _LEGAL_ENTITY.field("tax_credit_rating").authority
LICENCE_TYPE = _LICENCE.licence_type_code
LICENCE_AUTHORITY = _LICENCE.key.authority

WHEN = datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=8)))
CITIZEN_ID = "11010519491231002X"
USCC = "91110000600037341L"

PERSON = PersonChanged.upsert(
    department=PERSON_AUTHORITY,
    key=CITIZEN_ID,
    sequence=(1 << 62) + 3,
    occurred_at=WHEN,
    data=PersonData(name="张三" * 40, sex="1", birth_date=date(1949, 12, 31), ethnicity=None),
)
DEATH = PersonChanged.upsert(
    department=DEATH_AUTHORITY,
    key=CITIZEN_ID,
    sequence=0,
    occurred_at=datetime(1960, 1, 1, tzinfo=UTC),
    data=PersonData(death_date=date(1969, 7, 20)),
)
PERSON_DELETED = PersonChanged.delete(department=PERSON_AUTHORITY, key=CITIZEN_ID, sequence=64)
COMPANY = LegalEntityChanged.upsert(
    department=COMPANY_AUTHORITY,
    key=USCC,
    sequence=127,
    data=LegalEntityData(
        name="某某有限公司",
        registered_capital=Decimal("-12345678901234.56"),
        establishment_date=date(2001, 1, 1),
        status="active",
    ),
)
CAPITAL = LegalEntityChanged.upsert(
    department=COMPANY_AUTHORITY,
    key=USCC,
    sequence=128,
    data=LegalEntityData(registered_capital=Decimal("0.10")),
)
RATING = LegalEntityChanged.upsert(
    department=RATING_AUTHORITY,
    key=USCC,
    sequence=129,
    data=LegalEntityData(tax_credit_rating="A"),
)
LICENCE = CertificateChanged.upsert(
    department=LICENCE_AUTHORITY,
    key=certificate_key(LICENCE_TYPE, "京食123"),
    sequence=5,
    event_id=uuid.UUID(int=7),
    data=CertificateData(
        licence_type_code=LICENCE_TYPE,
        attributes={"经营项目": "预包装食品" * 20, "x": ""},
        valid_to=date(2030, 12, 31),
        status="valid",
    ),
)
LICENCE_EMPTY_ATTRIBUTES = CertificateChanged.upsert(
    department=LICENCE_AUTHORITY,
    key=certificate_key(LICENCE_TYPE, "1"),
    sequence=6,
    data=CertificateData(attributes={}),
)

EVENTS: list[ChangeEvent[Any]] = [
    PERSON,
    DEATH,
    PERSON_DELETED,
    COMPANY,
    CAPITAL,
    RATING,
    LICENCE,
    LICENCE_EMPTY_ATTRIBUTES,
]


def event_id(event: ChangeEvent[Any]) -> str:
    """A test id: schema and sequence (distinct across the corpus)."""
    return f"{event.schema_name}-{event.source_sequence}"
