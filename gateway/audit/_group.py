"""Group commit: many threads' audit records chained in one transaction, each caller
returning only once its record is committed.

For the paths audited on every request (lookups, claim checks): one durable commit per
record, each behind the database's write lock, caps them at a few hundred a second and
makes the waiting threads contend for the lock. Here one writer thread takes whatever is
queued, appends it with `ChainedAuditLog.append_many`, and wakes the callers; a record is
never answered before it is in the chain. A failed commit raises in every waiting caller.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from govbus.gateway.audit._log import ChainedAuditLog
from govbus.gateway.audit._models import AuditRecord

_MAX_GROUP = 500  # records a transaction at most


@dataclass
class _Pending:
    record: AuditRecord
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class GroupCommit:
    """An `AuditSink` over a ChainedAuditLog whose `append` waits for a group commit."""

    def __init__(self, log: ChainedAuditLog) -> None:
        self.log = log
        self._queue: deque[_Pending] = deque()
        self._wake = threading.Condition()
        self._writer: threading.Thread | None = None
        self._closed = False

    def append(self, record: AuditRecord) -> None:
        pending = _Pending(record)
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
        pending.done.wait()
        if pending.error is not None:
            raise pending.error

    def _write(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._closed:
                    self._wake.wait()
                if not self._queue:
                    return  # closed and drained
                group = [self._queue.popleft() for _ in range(min(len(self._queue), _MAX_GROUP))]
            try:
                self.log.append_many([p.record for p in group])
            except BaseException as exc:  # every caller of the group sees the failure
                for p in group:
                    p.error = exc
            for p in group:
                p.done.set()

    def close(self) -> None:
        """Commit what is queued, then stop the writer."""
        with self._wake:
            self._closed = True
            self._wake.notify()
            writer = self._writer
        if writer is not None:
            writer.join(30)
