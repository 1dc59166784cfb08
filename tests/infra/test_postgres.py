"""The PostgreSQL fixtures: a reachable server and a fresh database per test."""

from __future__ import annotations

import psycopg
import pytest

pytestmark = pytest.mark.postgres


def test_session_database_answers(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.parametrize("attempt", [1, 2])
def test_each_test_gets_an_empty_database(pg_database: str, attempt: int) -> None:
    # Run twice: the second run would see the first's table if databases were shared.
    with psycopg.connect(pg_database) as connection:
        tables = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        assert tables == (0,)
        connection.execute("CREATE TABLE marker (attempt int)")
        connection.execute("INSERT INTO marker VALUES (%s)", (attempt,))
