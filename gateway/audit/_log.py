"""The gateway's audit sink: guard, chain into the database, checkpoint, wake the mirror.

Checkpoints fall due every `checkpoint_every` entries (signed inside the append) and every
`checkpoint_seconds` (a timer, started with `start()`), and once more on `close()`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import structlog

from govbus.gateway.audit._chain import ChainEntry, Checkpoint, now_at
from govbus.gateway.audit._guard import guard_record
from govbus.gateway.audit._mirror import KafkaMirror
from govbus.gateway.audit._models import AuditRecord
from govbus.gateway.audit._signing import CheckpointSigner
from govbus.gateway.audit._store import AuditStore

_log = structlog.get_logger("gateway.audit")


class ChainedAuditLog:
    def __init__(
        self,
        store: AuditStore,
        signer: CheckpointSigner,
        *,
        checkpoint_every: int = 100,
        checkpoint_seconds: float = 60.0,
        mirror: KafkaMirror | None = None,
    ) -> None:
        self.store = store
        self.signer = signer
        self.checkpoint_every = max(1, checkpoint_every)
        self.checkpoint_seconds = checkpoint_seconds
        self.mirror = mirror
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None

    def append(self, record: AuditRecord) -> None:
        self.append_entry(record)

    def append_entry(self, record: AuditRecord) -> ChainEntry:
        entry = self.store.append(
            guard_record(record), now_at, self.signer.sign, self.checkpoint_every
        )
        if self.mirror is not None:
            self.mirror.wake()
        return entry

    def append_many(self, records: Sequence[AuditRecord]) -> list[ChainEntry]:
        """Several records in one transaction (see `GroupCommit`)."""
        entries = self.store.append_many(
            [guard_record(r) for r in records], now_at, self.signer.sign, self.checkpoint_every
        )
        if self.mirror is not None:
            self.mirror.wake()
        return entries

    def checkpoint(self) -> Checkpoint | None:
        """Sign the head now, if it moved since the last checkpoint."""
        checkpoint = self.store.checkpoint_head(self.signer.sign)
        if checkpoint is not None and self.mirror is not None:
            self.mirror.wake()
        return checkpoint

    def start(self) -> None:
        if self.mirror is not None:
            self.mirror.start()
        if self.checkpoint_seconds > 0:
            self._timer = threading.Thread(
                target=self._checkpoint_periodically, name="audit-checkpoints", daemon=True
            )
            self._timer.start()

    def close(self) -> None:
        """Stop the timer, sign the head, and let the mirror publish what is pending."""
        self._stop.set()
        if self._timer is not None:
            self._timer.join(10)
        try:
            self.checkpoint()
        except Exception as exc:  # the database is away: the next start signs the head
            _log.warning("audit head not signed at shutdown", error=type(exc).__name__)
        if self.mirror is not None:
            self.mirror.close()

    def _checkpoint_periodically(self) -> None:
        while not self._stop.wait(self.checkpoint_seconds):
            try:
                self.checkpoint()
            except Exception as exc:  # keep the timer alive; the next tick tries again
                _log.warning("audit checkpoint failed", error=type(exc).__name__)
