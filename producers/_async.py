"""`AsyncPublisher`: the Publisher for asyncio code.

A background thread polls the producer; each delivery report resolves an asyncio future
through `loop.call_soon_threadsafe`. A full local queue is waited on with `asyncio.sleep`,
so back-pressure never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from govbus import ChangeEvent, Contract, Settings
from govbus.producers._batch import BatchReceipt
from govbus.producers._delivery import DeliveryFailure, DeliveryReceipt, DeliveryResult
from govbus.producers._publisher import ProducerLike, Publisher

_POLL_TIMEOUT = 0.1
_BACKPRESSURE_SLEEP = 0.005


class AsyncPublisher:
    def __init__(
        self,
        department: str,
        settings: Settings | None = None,
        *,
        contract: Contract | None = None,
        producer: ProducerLike | None = None,
        producer_overrides: dict[str, Any] | None = None,
    ) -> None:
        self.publisher = Publisher(
            department,
            settings,
            contract=contract,
            producer=producer,
            producer_overrides=producer_overrides,
        )
        self._stop = threading.Event()
        self._poller = threading.Thread(
            target=self._poll_loop, name="govbus-publisher-poll", daemon=True
        )
        self._poller.start()

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            self.publisher.poll(_POLL_TIMEOUT)

    async def publish(
        self, event: ChangeEvent[Any], *, traceparent: str | None = None
    ) -> DeliveryReceipt:
        """Validate, produce and wait for the broker's acknowledgement."""
        return await (await self.enqueue(event, traceparent=traceparent))

    async def enqueue(
        self, event: ChangeEvent[Any], *, traceparent: str | None = None
    ) -> asyncio.Future[DeliveryReceipt]:
        """Validate and produce, awaiting room in the local queue; returns the ack future."""
        record = self.publisher.prepare(event, traceparent=traceparent)
        result = self.publisher.try_send(record)
        while result is None:
            await asyncio.sleep(_BACKPRESSURE_SLEEP)
            result = self.publisher.try_send(record)
        return self._future_of(result)

    def _future_of(self, result: DeliveryResult) -> asyncio.Future[DeliveryReceipt]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[DeliveryReceipt] = loop.create_future()

        def resolve(done: DeliveryResult) -> None:
            loop.call_soon_threadsafe(_settle, future, done)

        result.add_done_callback(resolve)
        return future

    async def publish_many(
        self,
        events: Sequence[ChangeEvent[Any]],
        *,
        traceparent: str | None = None,
        timeout: float | None = None,
    ) -> BatchReceipt:
        """`Publisher.publish_many` off the event loop (back-pressure waits in a worker
        thread); resolves once every produced event is acknowledged or has failed."""
        batch = await asyncio.to_thread(
            self.publisher.publish_many, events, traceparent=traceparent
        )
        return await asyncio.to_thread(batch.result, timeout)

    async def flush(self, timeout: float = 30.0) -> list[DeliveryFailure]:
        return await asyncio.to_thread(self.publisher.flush, timeout)

    async def close(self, timeout: float = 30.0) -> list[DeliveryFailure]:
        failures = await self.flush(timeout)
        self._stop.set()
        await asyncio.to_thread(self._poller.join)
        return failures

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def _settle(future: asyncio.Future[DeliveryReceipt], done: DeliveryResult) -> None:
    if future.cancelled():
        return
    failure = done.failure
    if failure is not None:
        future.set_exception(failure.to_error())
    else:
        future.set_result(done.result(0))
