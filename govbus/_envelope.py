"""CloudEvents Kafka protocol binding, binary mode: event attributes travel as `ce_*` headers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from govbus._errors import ErrorCode, GovbusError

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/avro"
REQUIRED_HEADERS = ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type")
Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class CloudEventAttributes:
    id: str
    source: str
    type: str
    time: str
    subject: str | None
    content_type: str
    traceparent: str | None = None

    @property
    def department(self) -> str:
        """The department code from a `/departments/<code>` source."""
        return self.source.rsplit("/", 1)[-1]


def event_type(entity: str) -> str:
    return f"cn.gov.govbus.{entity}.changed"


def department_source(code: str) -> str:
    return f"/departments/{code}"


def cloudevent_headers(
    *,
    event_id: str,
    department: str,
    entity: str,
    occurred_at: datetime,
    subject: str,
    traceparent: str | None = None,
) -> Headers:
    spec_version, source, type_, content_type = _constant_headers(department, entity)
    headers: Headers = [
        spec_version,
        ("ce_id", event_id.encode()),
        source,
        type_,
        ("ce_time", occurred_at.isoformat().encode()),
        ("ce_subject", subject.encode()),
        content_type,
    ]
    if traceparent:
        headers.append(("traceparent", traceparent.encode()))
    return headers


def header_template(department: str, entity: str) -> list[tuple[str, bytes | None]]:
    """`cloudevent_headers`' names in order, with the values fixed per department and
    entity; None where the event fills it in (ce_id, ce_time, ce_subject)."""
    spec_version, source, type_, content_type = _constant_headers(department, entity)
    return [
        spec_version,
        ("ce_id", None),
        source,
        type_,
        ("ce_time", None),
        ("ce_subject", None),
        content_type,
    ]


@lru_cache(maxsize=1024)
def _constant_headers(
    department: str, entity: str
) -> tuple[tuple[str, bytes], tuple[str, bytes], tuple[str, bytes], tuple[str, bytes]]:
    """The headers fixed per department and entity, encoded once (publish hot path)."""
    return (
        ("ce_specversion", SPEC_VERSION.encode()),
        ("ce_source", department_source(department).encode()),
        ("ce_type", event_type(entity).encode()),
        ("content-type", CONTENT_TYPE.encode()),
    )


_REQUIRED_SPEC_VERSION = SPEC_VERSION.encode()


def check_cloudevent_headers(headers: Sequence[tuple[str, bytes | None]] | None) -> None:
    """`parse_cloudevent_headers`'s verdict without building the attributes (the sync's
    hot path): raises the same errors, via that function, for anything it cannot pass."""
    if headers:
        values = dict(headers)
        if (
            len(values) == len(headers)  # no repeated names: the first value is the only one
            and values.get("ce_specversion") == _REQUIRED_SPEC_VERSION
            and values.get("ce_id")
            and values.get("ce_source")
            and values.get("ce_type")
            and values.get("ce_time")
            and values.get("content-type")
        ):
            return
    parse_cloudevent_headers(headers)


def parse_cloudevent_headers(
    headers: Sequence[tuple[str, bytes | None]] | None,
) -> CloudEventAttributes:
    """Read the attributes; raises MISSING_HEADERS naming every missing one."""
    values: dict[str, str] = {}
    for name, raw in headers or ():
        if raw is not None and name not in values:
            values[name] = raw.decode("utf-8", errors="replace")
    missing = [h for h in REQUIRED_HEADERS if not values.get(h)]
    if missing:
        raise GovbusError(
            ErrorCode.MISSING_HEADERS,
            f"record lacks CloudEvents headers: {', '.join(missing)}",
            details={"missing": missing},
        )
    if values["ce_specversion"] != SPEC_VERSION:
        raise GovbusError(
            ErrorCode.MISSING_HEADERS,
            f"unsupported ce_specversion {values['ce_specversion']!r}",
        )
    return CloudEventAttributes(
        id=values["ce_id"],
        source=values["ce_source"],
        type=values["ce_type"],
        time=values["ce_time"],
        subject=values.get("ce_subject"),
        content_type=values["content-type"],
        traceparent=values.get("traceparent"),
    )
