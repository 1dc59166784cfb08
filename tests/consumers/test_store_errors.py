"""The store-error classifier and its descriptions: retry, refuse the record, or stop.

sqlite3 errors are raised by a real SQLite; psycopg's are its own classes (the server's
are raised for real in test_store_refusals.py)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from govbus import ErrorCode, GovbusError
from govbus.consumers._refusals import Bisection
from govbus.consumers._store import StoreConflict, TransactionLost
from govbus.consumers._store_errors import (
    StoreErrorKind,
    classify_store_error,
    describe_store_error,
    is_transient,
    store_errors_as_refusals,
)
from govbus.consumers._store_retry import StoreRetry
from govbus.testing import KafkaEndpoint

TRANSIENT, REFUSED, FATAL = StoreErrorKind


@pytest.mark.parametrize(
    ("sqlstate", "kind"),
    [
        ("08006", TRANSIENT),  # connection failure
        ("08001", TRANSIENT),  # cannot connect
        ("40001", TRANSIENT),  # serialization failure
        ("40P01", TRANSIENT),  # deadlock
        ("53100", TRANSIENT),  # disk full
        ("53300", TRANSIENT),  # too many connections
        ("57P01", TRANSIENT),  # admin shutdown (pg_terminate_backend)
        ("57014", TRANSIENT),  # query canceled
        ("58030", TRANSIENT),  # I/O error
        ("55P03", TRANSIENT),  # lock not available
        ("22021", REFUSED),  # NUL in text via COPY
        ("22001", REFUSED),  # value too long
        ("22003", REFUSED),  # numeric out of range
        ("22P05", REFUSED),  # \u0000 in JSON
        ("23514", REFUSED),  # CHECK
        ("23502", REFUSED),  # NOT NULL
        ("54000", REFUSED),  # index row too big
        ("P0001", REFUSED),  # a trigger's RAISE EXCEPTION
        ("42P01", FATAL),  # no such table: dead-lettering everything would not help
        ("42501", FATAL),  # permission denied
        ("42703", FATAL),  # no such column
        ("28P01", FATAL),  # bad password
        ("25P02", FATAL),  # using an aborted transaction: a bug
        ("XX000", FATAL),  # internal error
    ],
)
def test_postgres_errors_are_classified_by_sqlstate(sqlstate: str, kind: StoreErrorKind) -> None:
    error = errors.lookup(sqlstate)("message")
    assert error.sqlstate == sqlstate
    assert classify_store_error(error) is kind
    assert is_transient(error) is (kind is TRANSIENT)


def test_psycopg_errors_without_sqlstate_are_classified_by_class() -> None:
    assert classify_store_error(psycopg.OperationalError("server closed the connection")) is (
        TRANSIENT
    )
    nul = psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
    assert classify_store_error(nul) is REFUSED
    assert classify_store_error(psycopg.InterfaceError("the connection is closed")) is TRANSIENT
    assert classify_store_error(psycopg.InterfaceError("no pipeline")) is FATAL
    assert classify_store_error(psycopg.ProgrammingError("wrong number of parameters")) is FATAL
    assert classify_store_error(StoreConflict("DeadlockDetected")) is TRANSIENT


def test_a_lost_transaction_is_never_a_refusal() -> None:
    refused = TransactionLost(sqlite3.IntegrityError("raised by a trigger"))
    assert classify_store_error(refused) is FATAL  # parts cannot go on without it
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorname = "SQLITE_FULL"  # type: ignore[attr-defined]
    assert classify_store_error(TransactionLost(full)) is TRANSIENT  # the whole batch again
    assert describe_store_error(refused) == (
        "the database ended the transaction: IntegrityError: raised by a trigger"
    )


def test_other_exceptions_are_not_store_errors() -> None:
    for error in (ValueError("x"), KeyError("k"), GovbusError(ErrorCode.DELIVERY_FAILED, "dlq")):
        assert classify_store_error(error) is None


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    conn.execute("CREATE TABLE t (name TEXT CHECK (name <> 'refused'), data BLOB)")
    yield conn
    conn.close()


def _raised(conn: sqlite3.Connection, sql: str, *params: object) -> sqlite3.Error:
    with pytest.raises(sqlite3.Error) as caught:
        conn.execute(sql, params)
    return caught.value


def test_sqlite_refusals_are_data_and_constraint_errors(sqlite_file: sqlite3.Connection) -> None:
    check = _raised(sqlite_file, "INSERT INTO t VALUES (?, NULL)", "refused")
    assert isinstance(check, sqlite3.IntegrityError) and classify_store_error(check) is REFUSED
    sqlite_file.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1000)
    too_big = _raised(sqlite_file, "INSERT INTO t VALUES ('ok', ?)", b"x" * 2000)
    assert isinstance(too_big, sqlite3.DataError) and classify_store_error(too_big) is REFUSED
    sqlite_file.execute(
        "CREATE TRIGGER rule BEFORE INSERT ON t WHEN NEW.name = 'site rule' "
        "BEGIN SELECT RAISE(ABORT, 'refused by a site rule'); END"
    )
    trigger = _raised(sqlite_file, "INSERT INTO t VALUES ('site rule', NULL)")
    assert classify_store_error(trigger) is REFUSED


def test_sqlite_busy_is_transient_and_schema_errors_are_fatal(
    sqlite_file: sqlite3.Connection, tmp_path: Path
) -> None:
    sqlite_file.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    other = sqlite3.connect(tmp_path / "s.db", isolation_level=None, timeout=0.01)
    busy = _raised(other, "BEGIN IMMEDIATE")
    assert busy.sqlite_errorname == "SQLITE_BUSY"  # type: ignore[attr-defined]
    assert classify_store_error(busy) is TRANSIENT
    sqlite_file.execute("ROLLBACK")
    missing = _raised(other, "INSERT INTO nope VALUES (1)")
    assert classify_store_error(missing) is FATAL
    other.close()


def test_descriptions_name_the_error_never_the_values() -> None:
    # PostgreSQL echoes values in quotes (invalid input syntax, out of range, …).
    error = errors.lookup("22P02")('invalid input syntax for type numeric: "13912345678"')
    text = describe_store_error(psycopg.DataError(str(error)))
    assert "13912345678" not in text and "DataError" in text
    sqlite = sqlite3.IntegrityError("CHECK constraint failed: name <> '张三' 110105195001010011")
    assert describe_store_error(sqlite) == (
        'IntegrityError: CHECK constraint failed: name <> "…" [id-number]'
    )
    assert describe_store_error(ValueError("secret 张三")) == "ValueError"
    long = describe_store_error(psycopg.DataError("x" * 1000))
    assert len(long) < 250


def test_store_errors_become_one_line_refusals_and_others_pass() -> None:
    with pytest.raises(GovbusError) as caught, store_errors_as_refusals("opening the store"):
        raise psycopg.OperationalError("connection refused")
    assert caught.value.code is ErrorCode.STORE_UNAVAILABLE
    assert str(caught.value) == (
        "STORE_UNAVAILABLE: opening the store: OperationalError: connection refused"
    )
    with pytest.raises(GovbusError) as fatal, store_errors_as_refusals("syncing"):
        raise errors.lookup("42P01")("relation missing")
    assert fatal.value.code is ErrorCode.STORE_FAILED
    with pytest.raises(KeyError), store_errors_as_refusals("syncing"):
        raise KeyError("a bug stays a bug")


def test_retry_retries_transient_errors_only() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise errors.lookup("40001")("serialization failure")
        return "done"

    retry = StoreRetry(first_delay=0.001)
    assert retry.run(flaky, "applying") == "done" and len(calls) == 3

    def refused() -> None:
        calls.append(1)
        raise errors.lookup("23514")("check")

    calls.clear()
    with pytest.raises(GovbusError) as caught:
        retry.run(refused, "applying")
    assert caught.value.code is ErrorCode.STORE_FAILED and len(calls) == 1


def test_retry_gives_up_after_its_time_budget() -> None:
    started = threading.Event()

    def down() -> None:
        started.set()
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    with pytest.raises(GovbusError) as caught:
        StoreRetry(max_seconds=0.3, first_delay=0.05, max_delay=0.1).run(down, "applying")
    assert started.is_set() and caught.value.code is ErrorCode.STORE_UNAVAILABLE
    assert "server closed the connection unexpectedly" in caught.value.message


class _ListStore:
    """A tiny in-memory 'transaction' for the bisection: refuses items equal to 'bad'."""

    def __init__(self) -> None:
        self.applied: list[str] = []
        self._marks: list[int] = []

    def savepoint(self) -> _Savepoint:
        return _Savepoint(self)

    def apply(self, items: object) -> int:
        assert isinstance(items, list)
        for item in items:
            if item == "bad":
                raise psycopg.DataError("refused")
            self.applied.append(item)
        return len(items)


class _Savepoint:
    def __init__(self, store: _ListStore) -> None:
        self.store = store

    def __enter__(self) -> None:
        self.store._marks.append(len(self.store.applied))

    def __exit__(self, kind: object, *_: object) -> None:
        mark = self.store._marks.pop()
        if kind is not None:
            del self.store.applied[mark:]


@pytest.mark.parametrize(
    "items",
    [
        ["bad"],
        ["a", "bad", "b"],
        ["bad", "a", "b", "c", "d", "bad", "e", "bad"],
        [f"g{i}" for i in range(37)] + ["bad"],
        ["bad"] * 5,
    ],
)
def test_bisection_applies_the_good_in_order_and_names_each_refused(items: list[str]) -> None:
    store = _ListStore()
    bisection: Bisection[str, int] = Bisection(
        lambda part: store.apply(list(part)), store.savepoint
    )
    bisection.settle(items, psycopg.DataError("the whole batch failed"))
    assert store.applied == [i for i in items if i != "bad"]
    assert [item for item, _ in bisection.refused] == [i for i in items if i == "bad"]
    assert sum(bisection.applied) == len(store.applied)
    assert bisection.parts_tried <= 2 * max(1, items.count("bad")) * len(items).bit_length() + 1


def test_bisection_lets_transient_errors_out() -> None:
    def apply(_part: object) -> None:
        raise psycopg.OperationalError("connection lost")

    bisection: Bisection[str, None] = Bisection(apply, _ListStore().savepoint)
    with pytest.raises(psycopg.OperationalError):
        bisection.settle(["a", "b"], psycopg.DataError("refused"))


@pytest.mark.kafka
@pytest.mark.parametrize(
    "command",
    [
        ["sync"],
        ["store", "get", "person", "110105195001010011"],
        ["store", "verify-certificate", "x"],
    ],
)
def test_the_cli_says_in_one_line_that_the_store_is_unreachable(
    command: list[str], kafka: KafkaEndpoint
) -> None:
    # A reachable broker: `sync` checks it before it opens the store.
    done = _run_cli(
        *command,
        "--store",
        "postgresql://govbus@127.0.0.1:1/none?connect_timeout=2",
        bootstrap=kafka.bootstrap_servers,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error STORE_UNAVAILABLE: ")


def _run_cli(*args: str, bootstrap: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if bootstrap is not None:
        env["GOVBUS_BOOTSTRAP_SERVERS"] = bootstrap
    return subprocess.run(
        [sys.executable, "-c", "from govbus.cli import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
