"""First pipeline steps: a raw Kafka record → a validated event, or a rejection with a reason.

Reasons name codes, fields and sizes, never personal values (they are scrubbed as well).
"""

from __future__ import annotations

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
from govbus.consumers._batch_items import RawRecord, RejectedRecord, SourcedEvent

__all__ = ["RawRecord", "decode_record", "reject", "validate_record"]


def reject(raw: RawRecord, error: GovbusError) -> RejectedRecord:
    return raw.rejected(str(error.code), scrub_text(error.message))


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
    return SourcedEvent(event, raw.position, raw)


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
