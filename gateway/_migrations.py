"""Versioned schema migrations for the gateway database, one numbered list per part.

Each part (registry, principals, subscriptions, audit ...) owns its list; a step once released
is never edited, a change is a new step. `gateway_migrations` records what ran, so a restart
applies only the new steps, all of one part's pending steps in one write transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from govbus.gateway._db import Database

Step = Sequence[str]  # the statements of one version, run in order

_LEDGER = """CREATE TABLE IF NOT EXISTS gateway_migrations (
    part TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (part, version)
)"""


def migrate(db: Database, part: str, steps: Sequence[Step]) -> int:
    """Apply `part`'s steps not yet recorded (step i is version i + 1); the version reached."""
    with db.transaction(write=True) as tx:
        tx.execute(_LEDGER)
        rows = tx.execute("SELECT MAX(version) FROM gateway_migrations WHERE part = ?", (part,))
        done = int(rows[0][0] or 0)
        if done > len(steps):
            raise RuntimeError(
                f"the gateway database has {part} schema version {done}, newer than this "
                f"govbus ({len(steps)}): upgrade govbus"
            )
        for version, statements in enumerate(steps[done:], start=done + 1):
            for sql in statements:
                tx.execute(sql)
            tx.execute(
                "INSERT INTO gateway_migrations (part, version) VALUES (?, ?)", (part, version)
            )
        return len(steps)
