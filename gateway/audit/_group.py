"""Group commit: many requests' audit records chained in one transaction, each caller going
on only once its records are committed.

For the paths audited on every request (lookups, claim checks): one durable commit per
record, each behind the database's write lock, caps them at a few hundred a second and
makes the waiting threads contend for the lock. Here one writer thread takes whatever is
queued, appends it with `ChainedAuditLog.append_many`, and wakes the callers: threads
blocked in `append`, or coroutines awaiting `append_async` (which holds no thread while
it waits). A record is never answered before it is in the chain; a failed commit raises in
every caller of its group.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from govbus.gateway.audit._log import ChainedAuditLog
from govbus.gateway.audit._models import AuditRecord

_MAX_GROUP = 500  # records a transaction, about


@dataclass
class _Pending:
    records: Sequence[AuditRecord]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    future: asyncio.Future[None] | None = None

    def settle(self, error: BaseException | None) -> None:
        self.error = error
        self.done.set()
        future = self.future
        if future is not None:
            future.get_loop().call_soon_threadsafe(_settle_future, future, error)


def _settle_future(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():  # the awaiting request was cancelled
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


class GroupCommit:
    """An `AuditSink` over a ChainedAuditLog whose appends wait for a group commit."""

    def __init__(self, log: ChainedAuditLog) -> None:
        self.log = log
        self._queue: deque[_Pending] = deque()
        self._wake = threading.Condition()
        self._writer: threading.Thread | None = None
        self._closed = False

    def append(self, record: AuditRecord) -> None:
        pending = self._enqueue(_Pending([record]))
        pending.done.wait()
        if pending.error is not None:
            raise pending.error

    async def append_async(self, records: Sequence[AuditRecord]) -> None:
        """Append `records` in order (in one group) without holding a thread while waiting."""
        if not records:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._enqueue(_Pending(records, future=future))
        await future

    def _enqueue(self, pending: _Pending) -> _Pending:
        with self._wake:
            if self._closed:
                raise RuntimeError("the audit group commit is closed")
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write, name="audit-group-commit", daemon=True
                )
                self._writer.start()
            self._queue.append(pending)
            self._wake.notify()
        return pending

    def _write(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._closed:
                    self._wake.wait()
                if not self._queue:
                    return  # closed and drained
                group = [self._queue.popleft()]
                size = len(group[0].records)
                while self._queue and size < _MAX_GROUP:
                    group.append(self._queue.popleft())
                    size += len(group[-1].records)
            error: BaseException | None = None
            try:
                self.log.append_many([r for p in group for r in p.records])
            except BaseException as exc:  # every caller of the group sees the failure
                error = exc
            for p in group:
                p.settle(error)

    def close(self) -> None:
        """Commit what is queued, then stop the writer."""
        with self._wake:
            self._closed = True
            self._wake.notify()
            writer = self._writer
        if writer is not None:
            writer.join(30)
