"""The `verify` delivery's migration (subscriptions v2) on a database with v1 rows: the rows
and their history survive, the foreign key still holds, and `verify` is now allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from govbus.gateway._db import open_database
from govbus.gateway._migrations import migrate
from govbus.gateway.subscriptions._store import _V1, SubscriptionStore

ROW = (
    "INSERT INTO subscriptions (id, subscriber, department, resource, provider, "
    "requested_fields, granted_fields, purpose, legal_basis, delivery, state, requested_at) "
    "VALUES (?, 'bank01', 'BANK01', 'BR-PERSON', 'PSB', '[\"name\"]', '[\"name\"]', 'p', 'b', "
    "?, 'active', '2026-03-03T02:00:00.000000+00:00')"
)
STEP = (
    "INSERT INTO subscription_transitions (subscription_id, seq, from_state, to_state, event, "
    "actor, actor_role, at, reason) VALUES (?, 1, NULL, 'active', 'request', 'bank01', "
    "'subscriber', '2026-03-03T02:00:00.000000+00:00', '')"
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_database"))
    return f"sqlite:///{tmp_path / 'gateway.db'}"


def test_v1_rows_survive_and_verify_is_allowed(database_url: str) -> None:
    db = open_database(database_url)
    assert migrate(db, "subscriptions", (_V1,)) == 1
    with db.transaction(write=True) as tx:
        tx.execute(ROW, ("s1", "lookup"))
        tx.execute(STEP, ("s1",))
    # v1 refuses it (each backend's own CHECK error)
    with pytest.raises(Exception), db.transaction(write=True) as tx:  # noqa: B017
        tx.execute(ROW, ("s0", "verify"))
    SubscriptionStore(db)  # migrates to v2
    with db.transaction() as tx:
        assert tx.execute("SELECT id, delivery FROM subscriptions") == [("s1", "lookup")]
        assert tx.execute("SELECT subscription_id FROM subscription_transitions") == [("s1",)]
        assert tx.execute(
            "SELECT MAX(version) FROM gateway_migrations WHERE part = 'subscriptions'"
        ) == [(2,)]
    with db.transaction(write=True) as tx:
        tx.execute(ROW, ("s2", "verify"))
    for bad in ((ROW, ("s3", "carrier-pigeon")), (STEP, ("no-such-subscription",))):
        with pytest.raises(Exception), db.transaction(write=True) as tx:  # noqa: B017
            tx.execute(*bad)
    with db.transaction() as tx:
        assert tx.execute("SELECT id FROM subscriptions ORDER BY id") == [("s1",), ("s2",)]
