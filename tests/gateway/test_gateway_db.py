"""The PostgreSQL gateway database keeps one connection per thread and survives losing it."""

from __future__ import annotations

import psycopg
import pytest

from govbus.gateway._db import open_database

pytestmark = pytest.mark.postgres


def backend_pids(db_url: str) -> set[int]:
    db = open_database(db_url)
    pids: set[int] = set()
    for _ in range(3):
        with db.transaction() as tx:
            pids.add(int(tx.execute("SELECT pg_backend_pid()")[0][0]))
    return pids


def test_a_thread_reuses_its_connection(pg_database: str) -> None:
    assert len(backend_pids(pg_database)) == 1


def test_a_connection_lost_between_transactions_is_replaced(pg_database: str) -> None:
    db = open_database(pg_database)
    with db.transaction(write=True) as tx:
        tx.execute("CREATE TABLE t (n INTEGER)")
        pid = int(tx.execute("SELECT pg_backend_pid()")[0][0])
    with psycopg.connect(pg_database, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with db.transaction(write=True) as tx:
        tx.execute("INSERT INTO t VALUES (1)")
        assert int(tx.execute("SELECT pg_backend_pid()")[0][0]) != pid
    with db.transaction() as tx:
        assert tx.execute("SELECT n FROM t") == [(1,)]


def test_a_failed_transaction_rolls_back_and_the_connection_stays_usable(
    pg_database: str,
) -> None:
    db = open_database(pg_database)
    with db.transaction(write=True) as tx:
        tx.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
    with pytest.raises(psycopg.errors.UniqueViolation), db.transaction(write=True) as tx:
        tx.execute("INSERT INTO t VALUES (1)")
        tx.execute("INSERT INTO t VALUES (1)")
    with db.transaction() as tx:
        assert tx.execute("SELECT COUNT(*) FROM t") == [(0,)]
