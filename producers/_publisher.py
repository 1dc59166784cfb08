"""`Publisher`: validate, encode and produce change events for one department.

Pipeline per event: `prepare_record` (identifiers, schema, authority, size, encoding,
CloudEvents headers) then `send_record` (produce with back-pressure, delivery report).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from types import TracebackType
from typing import Any, NamedTuple, Protocol, Self

import structlog

from govbus import (
    CertificateChanged,
    ChangeEvent,
    Contract,
    EntityKind,
    ErrorCode,
    GovbusError,
    MakeRecord,
    Resource,
    Settings,
    check_authority,
    check_identifiers,
    check_storable_text,
    cloudevent_headers,
    cyclic_gc_paused,
    load_contract,
    producer_config,
    resource_for_event,
)
from govbus.producers._batch import BatchDelivery, Refusal
from govbus.producers._delivery import (
    DeliveryFailure,
    DeliveryResult,
    failure_code,
)
from govbus.producers._fast_path import build_fast_path
from govbus.producers._metrics import PUBLISH_DELIVERED, PUBLISH_DELIVERY_FAILED, PUBLISH_REFUSED

log = structlog.get_logger("govbus.producers")

Headers = list[tuple[str, bytes]]
DeliveryCallback = Callable[[DeliveryResult], None]
# How long a full local queue waits for deliveries before trying again.
_BACKPRESSURE_POLL = 0.05
_UNBUILT: Any = object()


class ProducerLike(Protocol):
    """The part of `confluent_kafka.Producer` the publisher uses (fakes implement it)."""

    def produce(
        self,
        topic: str,
        *,
        value: bytes | None = None,
        key: bytes | None = None,
        on_delivery: Callable[[Any, Any], None] | None = None,
        headers: Any = None,
    ) -> None: ...

    def poll(self, timeout: float) -> int: ...

    def flush(self, timeout: float) -> int: ...

    def __len__(self) -> int: ...


class OutgoingRecord(NamedTuple):
    """A validated, encoded event ready to produce (a tuple: built once per event)."""

    event_id: str
    resource: str
    topic: str
    key: bytes
    value: bytes
    headers: Headers

    @property
    def size(self) -> int:
        return len(self.key) + len(self.value) + headers_size(self.headers)


def headers_size(headers: Headers) -> int:
    total = 0
    for name, value in headers:
        total += len(name) + len(value)
    return total


def refused(department: str, resource: str, error: GovbusError, event_id: str | None) -> None:
    """Count and log one refusal: codes and field names only, never values."""
    PUBLISH_REFUSED.labels(department=department, resource=resource, code=str(error.code)).inc()
    log.warning(
        "publish_refused",
        department=department,
        resource=resource,
        code=str(error.code),
        field=error.field,
        event_id=event_id,
    )


def _schema_mismatch(resource: Resource, exc: Exception) -> GovbusError:
    # The encoder's message can hold the value (personal data): only its type is kept.
    return GovbusError(
        ErrorCode.SCHEMA_MISMATCH,
        f"event does not fit schema {resource.schema_name} ({type(exc).__name__})",
    )


def _too_large(size: int, limit: int) -> GovbusError:
    return GovbusError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        f"event of {size} bytes exceeds the limit of {limit} bytes",
        details={"size": size, "limit": limit},
    )


class Publisher:
    """Publishes the change events of one department, after every check passes.

    `publish()` returns a `DeliveryResult`; `flush()` returns the failures since the last
    flush. A full local queue applies back-pressure (poll, then retry): nothing is dropped.
    """

    def __init__(
        self,
        department: str,
        settings: Settings | None = None,
        *,
        contract: Contract | None = None,
        producer: ProducerLike | None = None,
        producer_overrides: dict[str, Any] | None = None,
    ) -> None:
        self._producer: ProducerLike
        self.settings = settings or Settings()
        self.contract = contract or load_contract(self.settings)
        if self.contract.native and not self.settings.native:
            # A shared contract loaded with the native paths on: these settings switch
            # them off for this publisher (same catalog and schemas, Python encoding).
            self.contract = replace(self.contract, native=False)
        self.department = self.contract.catalog.department(department).code
        if producer is None:
            from confluent_kafka import Producer

            conf = producer_config(self.settings, **(producer_overrides or {}))
            producer = Producer(conf)
        self._producer = producer
        self._poll = producer.poll
        self._resources: dict[tuple[EntityKind, str | None], Resource] = {}
        # Native record makers per resource code; None where the Python path serves.
        self._makers: dict[str, MakeRecord | None] = {}
        self._fast: Any | None = _UNBUILT  # native FastPath, built on first use
        self._open_batches: list[BatchDelivery] = []
        self._batches_lock = threading.Lock()  # publish_many and poll may run in two threads
        self._failures: list[DeliveryFailure] = []
        self._max_bytes = self.settings.max_event_bytes
        self._delivered_counters: dict[str, Any] = {}

    # -- validation and encoding ------------------------------------------------------

    def prepare(self, event: ChangeEvent[Any], *, traceparent: str | None = None) -> OutgoingRecord:
        """Validate and encode; raises GovbusError (counted and logged) on refusal.

        The event is a pydantic model, validated when it was built: it is not validated
        again, but every govbus check (department, text the store can hold, identifiers,
        authority, schema, size) runs on every event.
        """
        fast = self._fast if self._fast is not _UNBUILT else self._build_fast_path()
        if fast is not None:
            parts = fast.prepare(event, traceparent)
            if parts is not None:  # every check passed natively
                return OutgoingRecord._make(parts)
        resource: Resource | None = None
        try:
            if not isinstance(event, ChangeEvent):
                raise GovbusError(
                    ErrorCode.SCHEMA_MISMATCH, "not a govbus change event (PersonChanged, ...)"
                )
            resource = self._resource_for(event)
            self._check_department(event, resource)
            check_storable_text(event)
            check_identifiers(event)
            check_authority(self.contract.catalog, resource, event)
            return self._encode(resource, event, traceparent)
        except GovbusError as exc:
            event_id = str(getattr(event, "event_id", "")) or None
            refused(self.department, resource.code if resource else "unknown", exc, event_id)
            raise

    def _build_fast_path(self) -> Any | None:
        self._fast = build_fast_path(self.contract, self.department, self._max_bytes)
        return self._fast

    def _resource_for(self, event: ChangeEvent[Any]) -> Resource:
        """The event's resource, looked up once per entity (and licence type)."""
        licence_type = event.licence_type_code if isinstance(event, CertificateChanged) else None
        cache_key = (event.entity, licence_type)
        resource = self._resources.get(cache_key)
        if resource is None:
            resource = resource_for_event(self.contract.catalog, event)
            self._resources[cache_key] = resource  # bounded: only catalog resources land here
        return resource

    def _check_department(self, event: ChangeEvent[Any], resource: Resource) -> None:
        if event.source_department != self.department:
            raise GovbusError(
                ErrorCode.NOT_AUTHORITATIVE,
                f"this publisher sends for {self.department}; the event claims to come from "
                f"{event.source_department}",
                field="source_department",
                details={"department": self.department, "resource": resource.code},
            )

    def _encode(
        self, resource: Resource, event: ChangeEvent[Any], traceparent: str | None
    ) -> OutgoingRecord:
        try:
            make = self._makers[resource.code]
        except KeyError:
            maker = self.contract.record_maker(resource, self.department)
            make = self._makers[resource.code] = None if maker is None else maker.make
        if make is None:
            return self._encode_in_python(resource, event, traceparent)
        try:
            event_id, key, value, headers, size = make(event, traceparent)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise _schema_mismatch(resource, exc) from None
        if size > self._max_bytes:
            raise _too_large(size, self._max_bytes)
        return OutgoingRecord(event_id, resource.code, resource.topic, key, value, headers)

    def _encode_in_python(
        self, resource: Resource, event: ChangeEvent[Any], traceparent: str | None
    ) -> OutgoingRecord:
        event_id = str(event.event_id)
        try:
            value = self.contract.encode(resource, event, event_id=event_id)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise _schema_mismatch(resource, exc) from None
        key = self.contract.record_key(event)
        headers = cloudevent_headers(
            event_id=event_id,
            department=self.department,
            entity=event.entity,
            occurred_at=event.occurred_at,
            subject=key.decode(),
            traceparent=traceparent,
        )
        size = len(key) + len(value) + headers_size(headers)
        if size > self._max_bytes:
            raise _too_large(size, self._max_bytes)
        return OutgoingRecord(event_id, resource.code, resource.topic, key, value, headers)

    # -- producing ----------------------------------------------------------------------

    def publish(
        self,
        event: ChangeEvent[Any],
        *,
        traceparent: str | None = None,
        on_delivery: DeliveryCallback | None = None,
    ) -> DeliveryResult:
        """Validate, encode and produce one event; the result resolves on the broker's ack."""
        return self.send(self.prepare(event, traceparent=traceparent), on_delivery=on_delivery)

    def publish_many(
        self, events: Sequence[ChangeEvent[Any]], *, traceparent: str | None = None
    ) -> BatchDelivery:
        """Validate, encode and produce a batch, in order; one handle for its deliveries.

        Every event passes the same checks as `publish`; a refused event is listed in
        `refused` (index and error, counted and logged) and not produced, and the rest go
        on. The events share one delivery callback instead of a result each, so a batch
        is the fast way in; failures also reach `flush()`.
        """
        batch = BatchDelivery(
            self._producer.poll, self._batch_delivery_failed, native=self.contract.native
        )
        with self._batches_lock:
            self._open_batches.append(batch)
        fast = self._fast if self._fast is not _UNBUILT else self._build_fast_path()
        with cyclic_gc_paused():
            self._produce_batch(events, batch, fast, traceparent)
        return batch

    def _produce_batch(
        self,
        events: Sequence[ChangeEvent[Any]],
        batch: BatchDelivery,
        fast: Any | None,
        traceparent: str | None,
    ) -> None:
        index, count = 0, len(events)
        while index < count:
            if fast is not None:
                index = fast.produce_many(events, index, self._producer, batch.tracker, traceparent)
                if index >= count:
                    break
            try:  # the fast path left this one to Python: it decides and names the error
                record = self.prepare(events[index], traceparent=traceparent)
                self._produce_for_batch(record, batch)
            except GovbusError as exc:
                batch.refused.append(Refusal(index, exc))
            index += 1

    def _produce_for_batch(self, record: OutgoingRecord, batch: BatchDelivery) -> None:
        while not self._produce_once(record, batch.tracker):
            self._producer.poll(_BACKPRESSURE_POLL)
        batch.tracker.count_produced(record.topic)

    def _produce_once(
        self, record: OutgoingRecord, on_delivery: Callable[[Any, Any], None]
    ) -> bool:
        """Produce; False when the local queue is full (the caller decides how to wait)."""
        try:
            self._producer.produce(
                record.topic,
                value=record.value,
                key=record.key,
                on_delivery=on_delivery,
                headers=record.headers,
            )
        except BufferError:
            return False
        except Exception as exc:  # KafkaException: fatal producer state, unknown topic...
            raise GovbusError(
                ErrorCode.BROKER_UNAVAILABLE,
                f"could not produce to {record.topic}: {type(exc).__name__}",
            ) from exc
        return True

    def send(
        self, record: OutgoingRecord, *, on_delivery: DeliveryCallback | None = None
    ) -> DeliveryResult:
        """Produce an already prepared record, waiting (never dropping) while the queue is full."""
        result = self.try_send(record, on_delivery=on_delivery)
        while result is None:
            self._producer.poll(_BACKPRESSURE_POLL)
            result = self.try_send(record, on_delivery=on_delivery)
        return result

    def try_send(
        self, record: OutgoingRecord, *, on_delivery: DeliveryCallback | None = None
    ) -> DeliveryResult | None:
        """Produce once; None when the local queue is full (the caller decides how to wait)."""
        # The result is librdkafka's on_delivery callable too: one object per event.
        result = _TrackedDelivery(self, record.event_id, record.topic)
        if on_delivery is not None:
            result.add_done_callback(on_delivery)
        return result if self._produce_once(record, result) else None

    def poll(self, timeout: float = 0.0) -> int:
        """Serve delivery reports; returns how many were served."""
        served = self._producer.poll(timeout)
        if self._open_batches:
            self._settle_batches()
        return served

    def flush(self, timeout: float = 30.0) -> list[DeliveryFailure]:
        """Wait for every outstanding delivery; returns the failures since the last flush.

        Events still unacknowledged at the timeout are reported as BROKER_UNAVAILABLE by
        their `DeliveryResult`s later; `pending()` says how many remain.
        """
        deadline = time.monotonic() + timeout
        remaining = self._producer.flush(timeout)
        while remaining and time.monotonic() < deadline:
            remaining = self._producer.flush(max(0.0, deadline - time.monotonic()))
        self._settle_batches()
        failures, self._failures = self._failures, []
        return failures

    def pending(self) -> int:
        return len(self._producer)

    def close(self, timeout: float = 30.0) -> list[DeliveryFailure]:
        return self.flush(timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- delivery reports (called from poll/flush) -------------------------------------

    def _settle_batches(self) -> None:
        """Count the deliveries of finished batches (per topic) and let them go."""
        finished: list[BatchDelivery] = []
        still_open: list[BatchDelivery] = []
        with self._batches_lock:
            for batch in self._open_batches:
                (finished if batch.done() else still_open).append(batch)
            self._open_batches = still_open
        for batch in finished:
            failed_by_topic: dict[str, int] = {}
            for failure in batch.failures:
                failed_by_topic[failure.topic] = failed_by_topic.get(failure.topic, 0) + 1
            for topic, produced in batch.tracker.produced_by_topic().items():
                delivered = produced - failed_by_topic.get(topic, 0)
                if delivered:
                    PUBLISH_DELIVERED.labels(self.department, topic).inc(delivered)

    def _batch_delivery_failed(self, batch: BatchDelivery, err: Any, msg: Any) -> None:
        event_id = ""
        for name, value in msg.headers() or ():
            if name == "ce_id" and value is not None:
                event_id = value.decode("utf-8", errors="replace")
                break
        failure = self._delivery_failure(event_id, str(msg.topic()), err)
        batch.failures.append(failure)

    def _delivered(self, result: DeliveryResult, err: Any, msg: Any) -> None:
        if err is None:
            counter = self._delivered_counters.get(result.topic)
            if counter is None:
                counter = PUBLISH_DELIVERED.labels(self.department, result.topic)
                self._delivered_counters[result.topic] = counter
            counter.inc()
            result._delivered(msg.partition(), msg.offset())
            return
        result._failed(self._delivery_failure(result.event_id, result.topic, err))

    def _delivery_failure(self, event_id: str, topic: str, err: Any) -> DeliveryFailure:
        """Count, log and keep (for `flush()`) one event the broker did not take."""
        code = failure_code(err)
        failure = DeliveryFailure(event_id, topic, code, str(err.str()))
        PUBLISH_DELIVERY_FAILED.labels(self.department, topic, str(code)).inc()
        log.error(
            "publish_delivery_failed",
            department=self.department,
            topic=topic,
            event_id=event_id,
            code=str(code),
            reason=failure.message,
        )
        self._failures.append(failure)
        return failure


class _TrackedDelivery(DeliveryResult):
    """A DeliveryResult that is also the on_delivery callable handed to librdkafka."""

    __slots__ = ("_publisher",)

    def __init__(self, publisher: Publisher, event_id: str, topic: str) -> None:
        super().__init__(event_id, topic, publisher._poll)
        self._publisher = publisher

    def __call__(self, err: Any, msg: Any) -> None:
        self._publisher._delivered(self, err, msg)
