"""Retrying what the store could not do now (`StoreErrorKind.TRANSIENT`), with backoff."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog

from govbus.consumers._store_errors import (
    StoreErrorKind,
    classify_store_error,
    describe_store_error,
    store_failure,
)

log = structlog.get_logger("govbus.sync")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StoreRetry:
    """Jittered exponential backoff for transient store errors, within a time budget.

    Past the budget (or `max_attempts`), and at once for a fatal error, the error is raised
    as a `GovbusError` (STORE_UNAVAILABLE or STORE_FAILED): nothing of the failed attempts
    was committed, so a restart takes over where it stopped.
    """

    max_seconds: float = 120.0
    """Below librdkafka's max.poll.interval.ms (300 s): the member keeps its partitions."""
    max_attempts: int | None = None
    first_delay: float = 0.05
    max_delay: float = 5.0

    def delay(self, attempt: int) -> float:
        """The pause after the attempt-th failure; halved at random so rivals de-synchronise."""
        ceiling = min(self.max_delay, self.first_delay * 2.0 ** (attempt - 1))
        return ceiling * random.uniform(0.5, 1.0)

    def run(self, attempt: Callable[[], T], doing: str) -> T:
        started = time.monotonic()
        failures = 0
        while True:
            try:
                return attempt()
            except Exception as error:
                kind = classify_store_error(error)
                if kind is None:
                    raise
                failures += 1
                pause = self.delay(failures)
                out_of_budget = (
                    self.max_attempts is not None and failures >= self.max_attempts
                ) or time.monotonic() - started + pause > self.max_seconds
                if kind is not StoreErrorKind.TRANSIENT or out_of_budget:
                    raise store_failure(error, f"{doing} (attempt {failures})") from error
                log.warning(
                    "store unavailable; retrying",
                    doing=doing,
                    error=describe_store_error(error),
                    attempt=failures,
                    pause_s=round(pause, 3),
                )
                time.sleep(pause)
