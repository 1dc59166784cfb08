"""Typed change events: pydantic models that mirror the Avro change-event schemas.

`changed_fields` defaults to the fields explicitly given to the data model, so
`PersonData(phone=None)` sets the phone to null while `PersonData()` leaves it untouched.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Generic, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from govbus._catalog import EntityKind
from govbus._certificate_key import CertificateKey

Operation = Literal["UPSERT", "DELETE"]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_avro(self) -> dict[str, Any]:
        # Fields live in __dict__ (extra="forbid", no private attrs): a copy is the fast path.
        return dict(self.__dict__)


class PersonData(_Data):
    name: str | None = None
    sex: Literal["0", "1", "2", "9"] | None = None
    birth_date: date | None = None
    ethnicity: str | None = None
    household_address: str | None = None
    residence_address: str | None = None
    marital_status: str | None = None
    education: str | None = None
    phone: str | None = None
    death_date: date | None = None


class LegalEntityData(_Data):
    name: str | None = None
    entity_type: str | None = None
    legal_representative: str | None = None
    registered_capital: Decimal | None = Field(default=None, max_digits=20, decimal_places=2)
    registered_address: str | None = None
    business_scope: str | None = None
    establishment_date: date | None = None
    status: Literal["active", "revoked", "deregistered"] | None = None
    registration_authority: str | None = None
    tax_credit_rating: Literal["A", "B", "M", "C", "D"] | None = None


class CertificateData(_Data):
    licence_type_code: str | None = None
    licence_number: str | None = None
    holder_id: str | None = None
    holder_type: Literal["person", "legal_entity"] | None = None
    issuer_uscc: str | None = None
    issue_date: date | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    status: Literal["valid", "suspended", "revoked", "cancelled", "expired"] | None = None
    attributes: dict[str, str] | None = None


def _given(**values: Any) -> dict[str, Any]:
    """Only the arguments the caller gave, so the model's default factories fill the rest."""
    return {name: value for name, value in values.items() if value is not None}


DataT = TypeVar("DataT", bound=_Data)


class ChangeEvent(BaseModel, Generic[DataT]):
    """Fields shared by every change event; subclasses fix the data model and schema."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entity: ClassVar[EntityKind]
    schema_name: ClassVar[str]
    data_model: ClassVar[type[_Data]]

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    entity_key: str = Field(min_length=1)
    source_department: str = Field(min_length=1)
    source_sequence: int = Field(ge=0)
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    operation: Operation = "UPSERT"
    changed_fields: tuple[str, ...] = ()
    data: DataT | None = None

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    @classmethod
    def upsert(
        cls,
        *,
        department: str,
        key: str,
        sequence: int,
        data: DataT,
        occurred_at: datetime | None = None,
        event_id: uuid.UUID | None = None,
    ) -> Self:
        return cls(
            entity_key=key,
            source_department=department,
            source_sequence=sequence,
            operation="UPSERT",
            changed_fields=tuple(sorted(data.model_fields_set)),
            data=data,
            **_given(occurred_at=occurred_at, event_id=event_id),
        )

    @classmethod
    def delete(
        cls,
        *,
        department: str,
        key: str,
        sequence: int,
        occurred_at: datetime | None = None,
        event_id: uuid.UUID | None = None,
    ) -> Self:
        return cls(
            entity_key=key,
            source_department=department,
            source_sequence=sequence,
            operation="DELETE",
            **_given(occurred_at=occurred_at, event_id=event_id),
        )

    def changed_values(self) -> dict[str, Any]:
        """The fields this event sets, with their new values (None means set to null)."""
        if self.data is None:
            return {}
        return {name: getattr(self.data, name) for name in self.changed_fields}

    def to_avro(self, event_id: str | None = None) -> dict[str, Any]:
        """The Avro record; `event_id` is `str(self.event_id)` when the caller has it already."""
        return {
            "event_id": event_id or str(self.event_id),
            "entity_key": self.entity_key,
            "source_department": self.source_department,
            "source_sequence": self.source_sequence,
            "occurred_at": self.occurred_at,
            "operation": self.operation,
            "changed_fields": list(self.changed_fields),
            "data": None if self.data is None else self.data.to_avro(),
        }

    @classmethod
    def from_avro(cls, record: dict[str, Any]) -> Self:
        data = record.get("data")
        return cls.model_validate(
            {
                **record,
                "data": None if data is None else cls.data_model.model_validate(data),
            }
        )


class PersonChanged(ChangeEvent[PersonData]):
    entity = EntityKind.PERSON
    schema_name = "person_changed"
    data_model = PersonData


class LegalEntityChanged(ChangeEvent[LegalEntityData]):
    entity = EntityKind.LEGAL_ENTITY
    schema_name = "legal_entity_changed"
    data_model = LegalEntityData


class CertificateChanged(ChangeEvent[CertificateData]):
    entity = EntityKind.CERTIFICATE
    schema_name = "certificate_changed"
    data_model = CertificateData

    @property
    def licence_type_code(self) -> str:
        """From the key; INVALID_IDENTIFIER if it is not `<licence type code>:<number>`."""
        return CertificateKey.parse(self.entity_key).licence_type_code


EVENT_TYPES: dict[EntityKind, type[ChangeEvent[Any]]] = {
    EntityKind.PERSON: PersonChanged,
    EntityKind.LEGAL_ENTITY: LegalEntityChanged,
    EntityKind.CERTIFICATE: CertificateChanged,
}


def certificate_key(licence_type_code: str, licence_number: str) -> str:
    """`CertificateKey(licence_type_code, licence_number).format()`."""
    return CertificateKey(licence_type_code, licence_number).format()
