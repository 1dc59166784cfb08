"""The dedup table is bounded: processed event ids older than the retention are forgotten.

`processed_events` keeps each claimed id with its claim time (migration 6). The id of an
event is what counts an outbox retry as a duplicate rather than applied again; a retry
comes within seconds or hours, so ids are kept for a window (`Settings.dedup_retention_days`,
`GOVBUS_DEDUP_RETENTION_DAYS`, default 30) and then deleted. A copy older than the window
is still harmless to state: it carries the sequence it always had, which the fields it
set have reached already, so per-field sequences refuse it (it counts as applied with stale
fields, not as a duplicate).

`DedupPruner.prune` runs between the sync's batches, in transactions of its own, and is
bounded so that it never holds the sync up: at most `batch_ids` ids a statement, oldest
first (PostgreSQL: by an index on the claim time; SQLite: the head of a table kept in claim
order), at most `max_statements` statements or `max_seconds` a call. A backlog (after an
upgrade, a long stop) is worked off over later calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from govbus.consumers._store import Store


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class DedupPruner:
    store: Store
    retention: timedelta
    batch_ids: int = 1000
    max_statements: int = 20
    max_seconds: float = 0.05
    interval_seconds: float = 1.0
    """Between calls that found nothing left to prune: the check itself is a transaction."""
    clock: Callable[[], datetime] = _utc_now
    _due: float = field(default=0.0, init=False)

    def prune_if_due(self) -> int:
        """`prune` when due: at once after a call that stopped at its bounds, else at most
        once per `interval_seconds`."""
        if time.monotonic() < self._due:
            return 0
        return self.prune()

    def prune(self, now: datetime | None = None) -> int:
        """Delete ids claimed before `now` − retention, within the bounds; return how many."""
        before = (now or self.clock()) - self.retention
        deadline = time.monotonic() + self.max_seconds
        pruned = 0
        for _ in range(self.max_statements):
            deleted = self.store.prune_processed(before, self.batch_ids)
            pruned += deleted
            if deleted < self.batch_ids:  # nothing older left
                self._due = time.monotonic() + self.interval_seconds
                return pruned
            if time.monotonic() >= deadline:
                break
        self._due = 0.0  # more to do: the next call goes on
        return pruned
