"""Subscription tables in the gateway database: one row per request, one per state change.

Moments are stored as fixed-width UTC ISO text (microseconds, `+00:00`), so that text order
is time order on SQLite and PostgreSQL alike; field lists as JSON arrays. Callers pass the
transaction, so a check and the change it allows run under one write lock.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from govbus.gateway._db import Database, Row, Transaction
from govbus.gateway._migrations import migrate
from govbus.gateway.subscriptions._calendar import DeadlineBasis
from govbus.gateway.subscriptions._models import Delivery, Transition
from govbus.gateway.subscriptions._states import UNDECIDED, State

_V1 = (
    """CREATE TABLE subscriptions (
        id TEXT PRIMARY KEY,
        subscriber TEXT NOT NULL,
        department TEXT NOT NULL,
        resource TEXT NOT NULL,
        provider TEXT NOT NULL,
        requested_fields TEXT NOT NULL,
        granted_fields TEXT,
        purpose TEXT NOT NULL,
        legal_basis TEXT NOT NULL,
        delivery TEXT NOT NULL CHECK (delivery IN ('kafka', 'http', 'lookup')),
        state TEXT NOT NULL CHECK (state IN
            ('pending', 'overdue', 'active', 'rejected', 'revoked', 'expired')),
        requested_at TEXT NOT NULL,
        expires_at TEXT,
        deadline_on TEXT,
        deadline_at TEXT,
        deadline_basis TEXT,
        approved_at TEXT
    )""",
    "CREATE INDEX subscriptions_by_subscriber ON subscriptions (subscriber)",
    "CREATE INDEX subscriptions_by_provider ON subscriptions (provider, state)",
    "CREATE INDEX subscriptions_by_state ON subscriptions (state)",
    """CREATE TABLE subscription_transitions (
        subscription_id TEXT NOT NULL REFERENCES subscriptions (id),
        seq INTEGER NOT NULL,
        from_state TEXT,
        to_state TEXT NOT NULL,
        event TEXT NOT NULL,
        actor TEXT NOT NULL,
        actor_role TEXT NOT NULL,
        at TEXT NOT NULL,
        reason TEXT NOT NULL,
        PRIMARY KEY (subscription_id, seq)
    )""",
)
_DELIVERY_CHECK = "delivery IN ('kafka', 'http', 'lookup')"
_DELIVERY_CHECK_V2 = "delivery IN ('kafka', 'http', 'lookup', 'verify')"
# v2: the `verify` delivery (claim checks only; docs/gateway.md, "Lookups and claim checks").
# PostgreSQL swaps the column's CHECK; SQLite cannot, so it rebuilds the table, with foreign
# keys deferred: the rows are back under the same ids before the commit checks them.
_V2_POSTGRES = (
    "ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_delivery_check",
    f"ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_delivery_check "
    f"CHECK ({_DELIVERY_CHECK_V2})",
)
_V2_SQLITE = (
    "PRAGMA defer_foreign_keys = ON",
    "CREATE TABLE subscriptions_v1 AS SELECT * FROM subscriptions",
    "DROP TABLE subscriptions",
    _V1[0].replace(_DELIVERY_CHECK, _DELIVERY_CHECK_V2),
    "INSERT INTO subscriptions SELECT * FROM subscriptions_v1",
    "DROP TABLE subscriptions_v1",
    *_V1[1:4],
)


def _migrations(db: Database) -> tuple[tuple[str, ...], ...]:
    return (_V1, _V2_SQLITE if db.url.startswith("sqlite") else _V2_POSTGRES)


_COLUMNS = (
    "id, subscriber, department, resource, provider, requested_fields, granted_fields, "
    "purpose, legal_basis, delivery, state, requested_at, expires_at, deadline_on, "
    "deadline_at, deadline_basis, approved_at"
)


class StoredSubscription(BaseModel):
    """A `subscriptions` row, typed."""

    model_config = ConfigDict(frozen=True)

    id: str
    subscriber: str
    department: str
    resource: str
    provider: str
    requested_fields: tuple[str, ...]
    granted_fields: tuple[str, ...] | None
    purpose: str
    legal_basis: str
    delivery: Delivery
    state: State
    requested_at: datetime
    expires_at: datetime | None
    deadline_on: date | None
    deadline_at: datetime | None
    deadline_basis: DeadlineBasis | None
    approved_at: datetime | None


def moment_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _row(row: Row) -> StoredSubscription:
    granted = json.loads(row[6]) if row[6] is not None else None
    return StoredSubscription(
        id=row[0],
        subscriber=row[1],
        department=row[2],
        resource=row[3],
        provider=row[4],
        requested_fields=tuple(json.loads(row[5])),
        granted_fields=tuple(granted) if granted is not None else None,
        purpose=row[7],
        legal_basis=row[8],
        delivery=row[9],
        state=State(row[10]),
        requested_at=datetime.fromisoformat(row[11]),
        expires_at=_moment(row[12]),
        deadline_on=date.fromisoformat(row[13]) if row[13] else None,
        deadline_at=_moment(row[14]),
        deadline_basis=DeadlineBasis(row[15]) if row[15] else None,
        approved_at=_moment(row[16]),
    )


def _opt(moment: datetime | None) -> str | None:
    return moment_text(moment) if moment is not None else None


class SubscriptionStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        migrate(db, "subscriptions", _migrations(db))

    def insert(self, tx: Transaction, sub: StoredSubscription, first: Transition) -> None:
        tx.execute(
            f"INSERT INTO subscriptions ({_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                sub.id,
                sub.subscriber,
                sub.department,
                sub.resource,
                sub.provider,
                json.dumps(list(sub.requested_fields)),
                json.dumps(list(sub.granted_fields)) if sub.granted_fields is not None else None,
                sub.purpose,
                sub.legal_basis,
                sub.delivery,
                str(sub.state),
                moment_text(sub.requested_at),
                _opt(sub.expires_at),
                sub.deadline_on.isoformat() if sub.deadline_on else None,
                _opt(sub.deadline_at),
                str(sub.deadline_basis) if sub.deadline_basis else None,
                _opt(sub.approved_at),
            ),
        )
        self._append(tx, sub.id, first)

    def change(
        self, tx: Transaction, sub: StoredSubscription, transition: Transition
    ) -> StoredSubscription:
        """Record `transition` and the row's new state (and grant, when approved)."""
        tx.execute(
            "UPDATE subscriptions SET state = ?, granted_fields = ?, approved_at = ? WHERE id = ?",
            (
                str(sub.state),
                json.dumps(list(sub.granted_fields)) if sub.granted_fields is not None else None,
                _opt(sub.approved_at),
                sub.id,
            ),
        )
        self._append(tx, sub.id, transition)
        return sub

    def _append(self, tx: Transaction, subscription_id: str, t: Transition) -> None:
        tx.execute(
            "INSERT INTO subscription_transitions (subscription_id, seq, from_state, to_state, "
            "event, actor, actor_role, at, reason) VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 "
            "FROM subscription_transitions WHERE subscription_id = ?), ?, ?, ?, ?, ?, ?, ?)",
            (
                subscription_id,
                subscription_id,
                str(t.from_state) if t.from_state is not None else None,
                str(t.to_state),
                t.event,
                t.actor,
                t.actor_role,
                moment_text(t.at),
                t.reason,
            ),
        )

    def get(self, tx: Transaction, subscription_id: str) -> StoredSubscription | None:
        rows = tx.execute(f"SELECT {_COLUMNS} FROM subscriptions WHERE id = ?", (subscription_id,))
        return _row(rows[0]) if rows else None

    def visible_to(
        self, tx: Transaction, subscriber: str, provider: str | None, everything: bool
    ) -> list[StoredSubscription]:
        """Own requests, a provider department's, or (for the admin) all, newest first."""
        if everything:
            rows = tx.execute(f"SELECT {_COLUMNS} FROM subscriptions ORDER BY requested_at DESC")
        else:
            rows = tx.execute(
                f"SELECT {_COLUMNS} FROM subscriptions WHERE subscriber = ? OR provider = ? "
                "ORDER BY requested_at DESC, id",
                (subscriber, provider if provider is not None else ""),
            )
        return [_row(r) for r in rows]

    def with_state(self, tx: Transaction, states: Sequence[State]) -> list[StoredSubscription]:
        marks = ", ".join("?" for _ in states)
        rows = tx.execute(
            f"SELECT {_COLUMNS} FROM subscriptions WHERE state IN ({marks}) ORDER BY id",
            [str(s) for s in states],
        )
        return [_row(r) for r in rows]

    def grants_at(self, tx: Transaction, at: datetime) -> list[Row]:
        """(id, subscriber, department, resource, granted_fields, delivery, approved_at,
        expires_at) of every active subscription in force at `at`."""
        moment = moment_text(at)
        return tx.execute(
            "SELECT id, subscriber, department, resource, granted_fields, delivery, approved_at, "
            "expires_at FROM subscriptions WHERE state = 'active' AND approved_at <= ? "
            "AND (expires_at IS NULL OR expires_at > ?) ORDER BY id",
            (moment, moment),
        )

    def due_ids(self, tx: Transaction, now: datetime) -> list[str]:
        """Ids with a timed event due: a deadline or a requested expiry passed."""
        at = moment_text(now)
        undecided = [str(s) for s in UNDECIDED]
        rows = tx.execute(
            "SELECT id FROM subscriptions WHERE "
            "(state = 'pending' AND deadline_at <= ?) "
            "OR (state IN (?, ?, 'active') AND expires_at <= ?) ORDER BY id",
            (at, *undecided, at),
        )
        return [str(r[0]) for r in rows]

    def history(self, tx: Transaction, ids: Sequence[str]) -> dict[str, list[Transition]]:
        found: dict[str, list[Transition]] = {i: [] for i in ids}
        if not ids:
            return found
        marks = ", ".join("?" for _ in ids)
        rows = tx.execute(
            "SELECT subscription_id, from_state, to_state, event, actor, actor_role, at, reason "
            f"FROM subscription_transitions WHERE subscription_id IN ({marks}) "
            "ORDER BY subscription_id, seq",
            list(ids),
        )
        for r in rows:
            found[r[0]].append(_transition(r))
        return found


def _transition(r: Row) -> Transition:
    values: dict[str, Any] = {
        "from_state": State(r[1]) if r[1] is not None else None,
        "to_state": State(r[2]),
        "event": r[3],
        "actor": r[4],
        "actor_role": r[5],
        "at": datetime.fromisoformat(r[6]),
        "reason": r[7],
    }
    return Transition(**values)
