"""Records the store refuses: found by bisection inside one transaction, then quarantined.

Only a batch that failed takes this path. Its records are applied in order, each part in a
savepoint: a part that fails with a refusal (`StoreErrorKind.REFUSED`) is rolled back and
split in two, down to the single records that fail alone. The good records' parts are
applied one after another, in order, so the end state is what applying only the good
records would give (per-field sequences and event-id dedup included): a batch has the same
effect as its parts in turn. k refused records among n cost about 2·k·log2(n) parts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar

from govbus.consumers._store import QuarantineRow, StoreWriter
from govbus.consumers._store_errors import is_refusal

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Bisection(Generic[T, R]):
    """Applies items in order, splitting the parts the store refuses."""

    apply: Callable[[Sequence[T]], R]
    savepoint: Callable[[], AbstractContextManager[object]]
    applied: list[R] = field(default_factory=list)
    """Each applied part's result, in order."""
    refused: list[tuple[T, Exception]] = field(default_factory=list)
    """Each refused item with the store's error, in order."""
    parts_tried: int = 0

    def settle(self, items: Sequence[T], failed: Exception | None = None) -> bool:
        """Apply `items`; return whether some were refused. `failed`: the refusal that items
        as a whole already met (they are split without trying them again)."""
        if not items:
            return False
        if failed is None or len(items) == 1:  # a single record is always tried itself
            failed = self._try(items)
            if failed is None:
                return False
        if len(items) == 1:
            self.refused.append((items[0], failed))
            return True
        middle = len(items) // 2
        first = self.settle(items[:middle])
        # If the first half went in whole, the second holds what failed: split it at once.
        second = self.settle(items[middle:], None if first else failed)
        return first or second

    def _try(self, items: Sequence[T]) -> Exception | None:
        self.parts_tried += 1
        try:
            with self.savepoint():
                result = self.apply(items)
        except Exception as error:
            if not is_refusal(error):
                raise
            return error
        self.applied.append(result)
        return None


NOT_STORABLE = "; headers, key and value not storable here: the dead-letter topic has them"


def quarantine_refused(tx: StoreWriter, rows: Sequence[QuarantineRow]) -> None:
    """Quarantine rows of refused records. The store may refuse a row's bytes as it refused
    the record (a NUL in a header on PostgreSQL's JSON, a blob above SQLite's length limit):
    then the row is kept without them, so the partition still flows."""
    for row in rows:
        try:
            with tx.savepoint():
                tx.quarantine([row])
        except Exception as error:
            if not is_refusal(error):
                raise
            bare = replace(row, headers=[], record_key=None, record_value=None)
            tx.quarantine([replace(bare, reason=row.reason + NOT_STORABLE)])
