"""An in-process audit sink for unit tests and until the chained log is configured."""

from __future__ import annotations

import threading

from govbus.gateway.audit._models import AuditRecord


class MemoryAuditLog:
    def __init__(self) -> None:
        self._records: list[AuditRecord] = []
        self._lock = threading.Lock()

    def append(self, record: AuditRecord) -> None:
        with self._lock:
            self._records.append(record)

    def start(self) -> None:
        """Nothing runs in the background; here so the app's lifespan can start any sink."""

    def close(self) -> None:
        """Nothing to flush."""

    @property
    def records(self) -> list[AuditRecord]:
        with self._lock:
            return list(self._records)
