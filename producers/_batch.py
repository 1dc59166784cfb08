"""`BatchDelivery`: one handle on the deliveries of a `Publisher.publish_many` batch.

Its events share one delivery callback (the native `BatchTracker`, or the Python one
below), which counts acknowledgements and hands each failure to the publisher: no object
per event, which is what lets a batch publish at the broker's pace.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from govbus import ErrorCode, GovbusError, native_batch_tracker
from govbus.producers._delivery import DeliveryFailure, poll_until


@dataclass(frozen=True, slots=True)
class Refusal:
    """An event of the batch refused before producing: its index and why."""

    index: int
    error: GovbusError


@dataclass(frozen=True, slots=True)
class BatchReceipt:
    """The outcome of a batch once every produced event is acknowledged or failed."""

    delivered: int
    refused: tuple[Refusal, ...]
    failed: tuple[DeliveryFailure, ...]

    @property
    def ok(self) -> bool:
        return not self.refused and not self.failed


class PythonBatchTracker:
    """`BatchTracker` without the native module: the same counts and callback."""

    def __init__(self, on_failure: Callable[[Any, Any], None]) -> None:
        self._lock = threading.Lock()
        self._on_failure = on_failure
        self._by_topic: dict[str, int] = {}
        self.produced = 0
        self.delivered = 0
        self.failed = 0

    def __call__(self, err: Any, msg: Any) -> None:
        if err is None:
            with self._lock:
                self.delivered += 1
            return
        with self._lock:
            self.failed += 1
        self._on_failure(err, msg)

    def count_produced(self, topic: str) -> None:
        with self._lock:
            self.produced += 1
            self._by_topic[topic] = self._by_topic.get(topic, 0) + 1

    def produced_by_topic(self) -> dict[str, int]:
        with self._lock:
            return dict(self._by_topic)


def new_batch_tracker(on_failure: Callable[[Any, Any], None], *, native: bool) -> Any:
    if native:
        return native_batch_tracker(on_failure)
    return PythonBatchTracker(on_failure)


class BatchDelivery:
    """Resolves when every produced event of the batch is acknowledged or has failed.

    Waiting drives the producer's poll loop, like `DeliveryResult.wait`.
    """

    def __init__(
        self,
        poll: Callable[[float], object],
        on_failure: Callable[[BatchDelivery, Any, Any], None],
        *,
        native: bool,
    ) -> None:
        self._poll = poll
        self.tracker = new_batch_tracker(lambda err, msg: on_failure(self, err, msg), native=native)
        self.refused: list[Refusal] = []
        self.failures: list[DeliveryFailure] = []
        self.settled = False  # delivered counts added to the metrics

    @property
    def produced(self) -> int:
        produced: int = self.tracker.produced
        return produced

    def done(self) -> bool:
        tracker = self.tracker
        return bool(tracker.delivered + tracker.failed >= tracker.produced)

    def wait(self, timeout: float | None = None) -> bool:
        """Poll the producer until every produced event is settled; False on timeout."""
        return poll_until(self.done, self._poll, timeout)

    def result(self, timeout: float | None = None) -> BatchReceipt:
        """The receipt; raises BROKER_UNAVAILABLE if acknowledgements are still missing."""
        if not self.wait(timeout):
            missing = self.produced - self.tracker.delivered - self.tracker.failed
            raise GovbusError(
                ErrorCode.BROKER_UNAVAILABLE,
                f"{missing} events of the batch not acknowledged within {timeout}s",
                details={"missing": missing},
            )
        return BatchReceipt(self.tracker.delivered, tuple(self.refused), tuple(self.failures))
