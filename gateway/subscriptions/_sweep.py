"""The periodic sweep: records escalations and expiries as they fall due.

Reads already show them (computed on read); the sweep writes them down with their audit
records and tells the grant listeners, so an expired grant leaves Kafka within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog

from govbus.gateway.subscriptions._service import SubscriptionService

_log = structlog.get_logger("gateway.subscriptions")


async def _sweep_forever(service: SubscriptionService, interval: float) -> None:
    while True:
        try:
            await asyncio.to_thread(service.sweep)
        except Exception as exc:  # a database hiccup must not stop later sweeps
            _log.error("subscription sweep failed", error_type=type(exc).__name__)
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def subscription_sweeper(
    service: SubscriptionService, interval: float
) -> AsyncIterator[None]:
    """Run the sweep every `interval` seconds for as long as the context is open."""
    task = asyncio.create_task(_sweep_forever(service, interval), name="subscription-sweep")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
