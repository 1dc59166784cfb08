"""The dead-letter topic: rejected records, with why and where from in their headers."""

from __future__ import annotations

from typing import Any

from confluent_kafka import Producer

from govbus import ErrorCode, GovbusError, Settings, producer_config
from govbus.consumers._batch_items import RejectedRecord

ERROR_CODE_HEADER = "govbus_error_code"
ERROR_REASON_HEADER = "govbus_error_reason"
ORIGINAL_TOPIC_HEADER = "govbus_original_topic"
ORIGINAL_PARTITION_HEADER = "govbus_original_partition"
ORIGINAL_OFFSET_HEADER = "govbus_original_offset"
# Oversized values are not forwarded (the broker would refuse them too); quarantine keeps them.
VALUE_DROPPED_HEADER = "govbus_value_dropped"


def dead_letter_headers(rejected: RejectedRecord) -> list[tuple[str, str | bytes | None]]:
    original: list[tuple[str, str | bytes | None]] = [
        (n, v.encode()) for n, v in rejected.headers if v is not None
    ]
    return [
        *original,
        (ERROR_CODE_HEADER, rejected.error_code.encode()),
        (ERROR_REASON_HEADER, rejected.reason.encode()),
        (ORIGINAL_TOPIC_HEADER, rejected.position.topic.encode()),
        (ORIGINAL_PARTITION_HEADER, str(rejected.position.partition).encode()),
        (ORIGINAL_OFFSET_HEADER, str(rejected.position.offset).encode()),
    ]


class DeadLetterPublisher:
    """Publishes rejections and waits for them before the batch's DB commit (at least once)."""

    def __init__(self, settings: Settings) -> None:
        self.topic = settings.dlq_topic
        self._max_bytes = settings.max_event_bytes
        self._producer = Producer(producer_config(settings, **{"linger.ms": 0}))
        self._failures: list[str] = []

    def _on_delivery(self, error: Any, _message: Any) -> None:
        if error is not None:
            self._failures.append(str(error))

    def publish(self, rejected: list[RejectedRecord]) -> None:
        for record in rejected:
            headers = dead_letter_headers(record)
            value = record.value
            if value is not None and len(value) > self._max_bytes:
                value = None
                headers.append((VALUE_DROPPED_HEADER, b"oversized; kept in quarantine"))
            self._producer.produce(
                self.topic,
                value=value,
                key=record.key,
                headers=headers,
                on_delivery=self._on_delivery,
            )
            self._producer.poll(0)
        remaining = self._producer.flush(30.0)
        failures, self._failures = self._failures, []
        if remaining or failures:
            raise GovbusError(
                ErrorCode.DELIVERY_FAILED,
                f"dead-letter topic {self.topic}: {remaining} undelivered, "
                f"{len(failures)} failed ({failures[:1]})",
            )

    def close(self) -> None:
        self._producer.flush(10.0)
