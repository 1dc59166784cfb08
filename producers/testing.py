"""An in-memory stand-in for the Kafka producer, for departments' and govbus's unit tests.

`InMemoryProducer` has a bounded local queue (raising BufferError when full, like
librdkafka) and acknowledges or fails queued messages when polled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class InMemoryMessage:
    topic_name: str
    value: bytes
    key: bytes
    header_pairs: list[tuple[str, bytes]]
    offset_number: int = -1

    def topic(self) -> str:
        return self.topic_name

    def headers(self) -> list[tuple[str, bytes]]:
        return self.header_pairs

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self.offset_number


class InMemoryKafkaError:
    def __init__(self, code: int, text: str) -> None:
        self._code = code
        self._text = text

    def code(self) -> int:
        return self._code

    def str(self) -> str:
        return self._text


class InMemoryProducer:
    """A bounded local queue; `poll` acknowledges queued messages (or fails them)."""

    def __init__(
        self, capacity: int = 1_000_000, fail_with: InMemoryKafkaError | None = None
    ) -> None:
        self.capacity = capacity
        self.fail_with = fail_with
        self.queue: list[tuple[InMemoryMessage, Callable[[Any, Any], None] | None]] = []
        self.log: list[InMemoryMessage] = []
        self.buffer_errors = 0

    def produce(
        self,
        topic: str,
        *,
        value: bytes | None = None,
        key: bytes | None = None,
        on_delivery: Callable[[Any, Any], None] | None = None,
        headers: Any = None,
    ) -> None:
        if len(self.queue) >= self.capacity:
            self.buffer_errors += 1
            raise BufferError("Local: Queue full")
        self.queue.append((InMemoryMessage(topic, value or b"", key or b"", headers), on_delivery))

    def poll(self, timeout: float = 0.0) -> int:
        served = 0
        while self.queue:
            message, callback = self.queue.pop(0)
            if self.fail_with is None:
                message.offset_number = len(self.log)
                self.log.append(message)
            if callback is not None:
                callback(self.fail_with, message)
            served += 1
        return served

    def flush(self, timeout: float = 0.0) -> int:
        self.poll(timeout)
        return 0

    def __len__(self) -> int:
        return len(self.queue)
