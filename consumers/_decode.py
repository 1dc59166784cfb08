"""First pipeline steps: a raw Kafka record → a validated event, or a rejection with a reason.

Reasons name codes, fields and sizes, never personal values (they are scrubbed as well).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from govbus import (
    Catalog,
    Contract,
    ErrorCode,
    GovbusError,
    check_cloudevent_headers,
    schema_mismatch,
    scrub_text,
    validate_event,
)
from govbus.consumers._apply import KafkaPosition, RejectedRecord, SourcedEvent

RawHeaders = Sequence[tuple[str, bytes | None]]


@dataclass(frozen=True, slots=True)
class RawRecord:
    """What the sync needs of a Kafka message."""

    position: KafkaPosition
    key: bytes | None
    value: bytes | None
    headers: RawHeaders


def _text_headers(headers: RawHeaders) -> list[tuple[str, str | None]]:
    return [(n, None if v is None else v.decode("utf-8", "replace")) for n, v in headers]


def reject(raw: RawRecord, error: GovbusError) -> RejectedRecord:
    return RejectedRecord(
        position=raw.position,
        error_code=str(error.code),
        reason=scrub_text(error.message),
        headers=_text_headers(raw.headers),
        key=raw.key,
        value=raw.value,
    )


def decode_record(
    contract: Contract, raw: RawRecord, *, topic_prefix: str, max_event_bytes: int
) -> SourcedEvent | RejectedRecord:
    """Size, CloudEvents headers, then the Avro body against the topic's schema."""
    try:
        if raw.value is None:
            raise GovbusError(ErrorCode.MALFORMED_PAYLOAD, "record has no value")
        if len(raw.value) > max_event_bytes:
            raise GovbusError(
                ErrorCode.PAYLOAD_TOO_LARGE,
                f"record of {len(raw.value)} bytes exceeds the limit of {max_event_bytes}",
            )
        check_cloudevent_headers(raw.headers)
        event = contract.decode(raw.position.topic.removeprefix(topic_prefix), raw.value)
    except GovbusError as error:
        return reject(raw, error)
    except ValidationError as error:
        return reject(raw, schema_mismatch(error, "event"))
    except Exception as error:  # any decoder failure is bad input, never a crash loop
        return reject(
            raw,
            GovbusError(ErrorCode.MALFORMED_PAYLOAD, f"undecodable ({type(error).__name__})"),
        )
    return SourcedEvent(event, raw.position)


def validate_record(
    catalog: Catalog, decoded: SourcedEvent | RejectedRecord, raw: RawRecord
) -> SourcedEvent | RejectedRecord:
    """Catalog checks: the event's resource, its identifiers, and field authority."""
    if isinstance(decoded, RejectedRecord):
        return decoded
    try:
        validate_event(catalog, decoded.event)
    except GovbusError as error:
        return reject(raw, error)
    return decoded
