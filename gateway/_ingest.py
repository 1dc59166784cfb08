"""`POST /v1/events`: HTTP ingestion for departments without a Kafka client.

The caller is an authenticated department; its events pass the same checks as the SDK
(the `govbus.producers.Publisher` of its department). A batch is all-or-nothing: every event is
checked first and any refusal returns 422 with a per-event error list; otherwise all are
produced and 202 lists the event ids once the broker acknowledged every one of them.
Send `event_id`s to make retries idempotent: consumers drop duplicates by event id.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from govbus import (
    CertificateChanged,
    CertificateKey,
    EntityKind,
    ErrorCode,
    GovbusError,
    Resource,
    Settings,
    load_contract,
    producer_config,
    resource_for_event,
)
from govbus.gateway._auth import Principal, current_principal
from govbus.gateway._errors import ApiError, error_responses
from govbus.producers import OutgoingRecord, Publisher, event_from_record

MAX_BATCH = 1000
ACK_TIMEOUT = 15.0

ingest_router = APIRouter(tags=["ingest"], responses=error_responses(403, 502, 503))


class IngestEvent(BaseModel):
    """One change: which resource (code, or entity kind), the key, sequence and data fields."""

    model_config = ConfigDict(extra="forbid")

    resource: str | None = None
    entity: EntityKind | None = None
    entity_key: str
    source_sequence: int
    operation: Literal["UPSERT", "DELETE"] = "UPSERT"
    occurred_at: datetime | None = None
    event_id: uuid.UUID | None = None
    data: dict[str, Any] | None = None


class IngestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[IngestEvent] = Field(min_length=1, max_length=MAX_BATCH)


class IngestAccepted(BaseModel):
    event_ids: list[str]


class IngestState:
    """One Kafka producer for the gateway, one Publisher per department sharing it."""

    def __init__(self, settings: Settings, ack_timeout: float = ACK_TIMEOUT) -> None:
        self.settings = settings
        self.ack_timeout = ack_timeout
        self._lock = threading.Lock()
        self._contract: Any = None
        self._producer: Any = None
        self._publishers: dict[str, Publisher] = {}

    def publisher(self, department: str) -> Publisher:
        with self._lock:
            if department not in self._publishers:
                if self._producer is None:
                    from confluent_kafka import Producer

                    self._contract = load_contract(self.settings)
                    timeout_ms = int(self.ack_timeout * 1000)
                    self._producer = Producer(
                        producer_config(self.settings, **{"message.timeout.ms": timeout_ms})
                    )
                self._publishers[department] = Publisher(
                    department, self.settings, contract=self._contract, producer=self._producer
                )
            return self._publishers[department]


def ingest_state(request: Request) -> IngestState:
    state = getattr(request.app.state, "ingest", None)
    if state is None:
        state = IngestState(request.app.state.settings)
        request.app.state.ingest = state
    return state


def resolve_resource(publisher: Publisher, item: IngestEvent) -> Resource:
    catalog = publisher.contract.catalog
    if item.resource is not None:
        return catalog.resource(item.resource)
    if item.entity is None:
        raise GovbusError(
            ErrorCode.UNKNOWN_RESOURCE,
            "give the resource code or the entity kind",
            field="resource",
        )
    licence_type = None
    if item.entity is EntityKind.CERTIFICATE:
        licence_type = CertificateKey.parse(item.entity_key).licence_type_code
    return catalog.resource_for_entity(item.entity, licence_type)


def prepare_item(publisher: Publisher, item: IngestEvent, index: int) -> OutgoingRecord:
    resource = resolve_resource(publisher, item)
    record = item.model_dump(exclude={"resource", "entity"}, exclude_none=True)
    event = event_from_record(resource, publisher.department, record, what=f"events.{index}")
    actual = resource_for_event(publisher.contract.catalog, event)
    if actual.code != resource.code:
        raise GovbusError(
            ErrorCode.UNKNOWN_RESOURCE,
            f"events.{index} belongs to resource {actual.code}, not {resource.code}",
            field="entity_key" if isinstance(event, CertificateChanged) else "resource",
        )
    return publisher.prepare(event)


def _event_error(index: int, exc: GovbusError) -> dict[str, Any]:
    return {"index": index, "code": str(exc.code), "field": exc.field, "message": exc.message}


@ingest_router.post("/v1/events", status_code=202, response_model=IngestAccepted)
def post_events(
    body: IngestRequest,
    request: Request,
    principal: Principal = Depends(current_principal),  # noqa: B008
) -> Any:
    if not principal.has_role("provider") or not principal.department:
        raise ApiError(403, "FORBIDDEN", f"principal {principal.name} does not publish")
    state = ingest_state(request)
    try:
        publisher = state.publisher(principal.department)
    except GovbusError as exc:
        raise ApiError(403, str(exc.code), exc.message) from None
    records: list[OutgoingRecord] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(body.events):
        try:
            records.append(prepare_item(publisher, item, index))
        except GovbusError as exc:
            errors.append(_event_error(index, exc))
    if errors:
        return JSONResponse(
            {
                "error_code": "INVALID_EVENTS",
                "message": f"{len(errors)} of {len(body.events)} events refused; none was sent",
                "errors": errors,
            },
            status_code=422,
        )
    results = [publisher.send(record) for record in records]
    event_ids = [record.event_id for record in records]
    for result in results:
        if not result.wait(state.ack_timeout + 5.0) or not result.succeeded():
            failure = result.failure
            code = failure.code if failure else ErrorCode.BROKER_UNAVAILABLE
            status = 503 if code is ErrorCode.BROKER_UNAVAILABLE else 502
            return JSONResponse(
                {
                    "error_code": str(code),
                    "message": "the broker did not acknowledge every event; retry the batch "
                    "with the same event ids",
                    "event_ids": event_ids,
                },
                status_code=status,
            )
    return IngestAccepted(event_ids=event_ids)
