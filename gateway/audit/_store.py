"""The chain's tables in the gateway database.

An entry is appended inside the database write transaction (BEGIN IMMEDIATE on SQLite, the
advisory lock on PostgreSQL): reading the head and inserting the next entry cannot interleave
with another writer, so concurrent appends chain one after the other. A checkpoint that falls
due is written in the same transaction as the entry it signs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any

from govbus.gateway._db import Database, Row, Transaction
from govbus.gateway._migrations import migrate
from govbus.gateway.audit._chain import ChainEntry, Checkpoint, next_entry
from govbus.gateway.audit._models import AuditRecord

Sign = Callable[[int, str], Checkpoint]  # (seq, hash) of the head -> its checkpoint

_V1 = (
    """CREATE TABLE audit_entries (
        seq BIGINT PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        resource TEXT,
        fields TEXT NOT NULL,
        records BIGINT,
        target TEXT,
        reason TEXT,
        outcome TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    )""",
    "CREATE INDEX audit_entries_by_resource ON audit_entries (resource, seq)",
    """CREATE TABLE audit_checkpoints (
        seq BIGINT PRIMARY KEY,
        hash TEXT NOT NULL,
        at TEXT NOT NULL,
        key_id TEXT NOT NULL,
        signature TEXT NOT NULL
    )""",
)
_MIGRATIONS = (_V1,)
_ENTRY_COLUMNS = (
    "seq, at, actor, action, resource, fields, records, target, reason, outcome, prev_hash, hash"
)
_CHECKPOINT_COLUMNS = "seq, hash, at, key_id, signature"
PAGE = 1000


def _entry(row: Row) -> ChainEntry:
    seq, at, actor, action, resource, fields, records, target, reason, outcome, prev, hsh = row
    return ChainEntry(
        seq=int(seq),
        at=at,
        actor=actor,
        action=action,
        resource=resource,
        fields=tuple(json.loads(fields)),
        records=None if records is None else int(records),
        target=target,
        reason=reason,
        outcome=outcome,
        prev_hash=prev,
        hash=hsh,
    )


_ROWS_A_STATEMENT = 500  # x 12 parameters: under SQLite's 32766


def _entry_row(entry: ChainEntry) -> tuple[Any, ...]:
    return (
        entry.seq,
        entry.at,
        entry.actor,
        entry.action,
        entry.resource,
        json.dumps(list(entry.fields), ensure_ascii=False),
        entry.records,
        entry.target,
        entry.reason,
        entry.outcome,
        entry.prev_hash,
        entry.hash,
    )


def _checkpoint(row: Row) -> Checkpoint:
    return Checkpoint(seq=int(row[0]), hash=row[1], at=row[2], key_id=row[3], signature=row[4])


def _insert_checkpoint(tx: Transaction, checkpoint: Checkpoint) -> None:
    tx.execute(
        f"INSERT INTO audit_checkpoints ({_CHECKPOINT_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
        (checkpoint.seq, checkpoint.hash, checkpoint.at, checkpoint.key_id, checkpoint.signature),
    )


def _head(tx: Transaction) -> tuple[int, str] | None:
    rows = tx.execute("SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1")
    return (int(rows[0][0]), str(rows[0][1])) if rows else None


def _last_checkpoint_seq(tx: Transaction) -> int:
    return int(tx.execute("SELECT MAX(seq) FROM audit_checkpoints")[0][0] or 0)


class AuditStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        migrate(db, "audit", _MIGRATIONS)

    def append(
        self, record: AuditRecord, clock: Callable[[], str], sign: Sign, every: int
    ) -> ChainEntry:
        """Chain `record` after the head; sign the new head when `every` entries are unsigned.

        The time is read under the write lock, so `at` never goes back as `seq` goes up (on
        one clock)."""
        return self.append_many([record], clock, sign, every)[0]

    def append_many(
        self, records: Sequence[AuditRecord], clock: Callable[[], str], sign: Sign, every: int
    ) -> list[ChainEntry]:
        """`append` for several records, chained in order in one transaction (a group
        commit); each checkpoint that falls due on the way is written in it too."""
        entries: list[ChainEntry] = []
        checkpoints: list[Checkpoint] = []
        with self.db.transaction(write=True) as tx:
            head = _head(tx)
            signed = _last_checkpoint_seq(tx)
            for record in records:
                entry = next_entry(head, clock(), record)
                if entry.seq - signed >= every:
                    checkpoints.append(sign(entry.seq, entry.hash))
                    signed = entry.seq
                head = (entry.seq, entry.hash)
                entries.append(entry)
            # One statement a group (one round trip, one release of the GIL), in chunks
            # that stay under SQLite's bound-parameter limit.
            for start in range(0, len(entries), _ROWS_A_STATEMENT):
                chunk = entries[start : start + _ROWS_A_STATEMENT]
                marks = ", ".join("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" for _ in chunk)
                tx.execute(
                    f"INSERT INTO audit_entries ({_ENTRY_COLUMNS}) VALUES {marks}",
                    [value for entry in chunk for value in _entry_row(entry)],
                )
            for checkpoint in checkpoints:
                _insert_checkpoint(tx, checkpoint)
        return entries

    def checkpoint_head(self, sign: Sign) -> Checkpoint | None:
        """Sign the head if entries were appended since the last checkpoint."""
        with self.db.transaction(write=True) as tx:
            head = _head(tx)
            if head is None or head[0] <= _last_checkpoint_seq(tx):
                return None
            checkpoint = sign(*head)
            _insert_checkpoint(tx, checkpoint)
        return checkpoint

    def head_seq(self) -> int:
        with self.db.transaction() as tx:
            head = _head(tx)
        return head[0] if head else 0

    def entries_after(self, seq: int, limit: int = PAGE) -> list[ChainEntry]:
        with self.db.transaction() as tx:
            rows = tx.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM audit_entries WHERE seq > ? ORDER BY seq LIMIT ?",
                (seq, limit),
            )
        return [_entry(r) for r in rows]

    def checkpoints_between(self, low: int, high: int) -> list[Checkpoint]:
        """Checkpoints with low <= seq <= high, by seq."""
        with self.db.transaction() as tx:
            rows = tx.execute(
                f"SELECT {_CHECKPOINT_COLUMNS} FROM audit_checkpoints "
                "WHERE seq >= ? AND seq <= ? ORDER BY seq",
                (low, high),
            )
        return [_checkpoint(r) for r in rows]

    def all_entries(self) -> Iterator[ChainEntry]:
        seq = 0
        while page := self.entries_after(seq):
            yield from page
            seq = page[-1].seq

    def all_checkpoints(self) -> list[Checkpoint]:
        with self.db.transaction() as tx:
            rows = tx.execute(f"SELECT {_CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY seq")
        return [_checkpoint(r) for r in rows]

    def search(
        self,
        *,
        resources: Collection[str] | None,
        since: str | None,
        after: int,
        limit: int,
    ) -> list[ChainEntry]:
        """Entries after seq `after` at or after `since`, of `resources` (None: all)."""
        where: list[str] = ["seq > ?"]
        params: list[Any] = [after]
        if resources is not None:
            if not resources:
                return []
            where.append(f"resource IN ({', '.join('?' for _ in resources)})")
            params.extend(sorted(resources))
        if since is not None:
            where.append("at >= ?")
            params.append(since)
        sql = (
            f"SELECT {_ENTRY_COLUMNS} FROM audit_entries WHERE {' AND '.join(where)} "
            "ORDER BY seq LIMIT ?"
        )
        with self.db.transaction() as tx:
            rows = tx.execute(sql, (*params, limit))
        return [_entry(r) for r in rows]
