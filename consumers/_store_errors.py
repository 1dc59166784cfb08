"""What a store failure means for the sync: retry it, refuse the record, or stop.

- TRANSIENT: the database cannot do it now (connection lost, serialization failure or
  deadlock, resources, operator intervention, SQLite busy or locked). Nothing was
  committed: the batch runs again after a pause, and is never dead-lettered.
- REFUSED: the database will never take this data (a data exception, a constraint, a
  limit). The batch is split to find the records it refuses; those go to the DLQ.
- FATAL: anything else (a missing table, permissions, corruption, a bug). Retrying or
  dead-lettering would not help, and dead-lettering would empty every partition into the
  DLQ: the sync stops with one line naming the error.

Descriptions name the error's class, SQLSTATE and the objects involved, never values:
database messages may quote the data that failed, so quoted parts are cut out.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum

import psycopg

from govbus import ErrorCode, GovbusError, scrub_text
from govbus.consumers._store import StoreConflict, TransactionLost


class StoreErrorKind(StrEnum):
    TRANSIENT = "transient"
    REFUSED = "refused"
    FATAL = "fatal"


# SQLSTATE classes (PostgreSQL appendix A).
_PG_TRANSIENT_CLASSES = frozenset(
    {
        "08",  # connection exception
        "40",  # transaction rollback: serialization failure, deadlock
        "53",  # insufficient resources: disk full, out of memory, too many connections
        "57",  # operator intervention: shutdown, terminated backend, cancel
        "58",  # system error: I/O
    }
)
_PG_TRANSIENT_STATES = frozenset({"55P03", "55006"})  # lock not available, object in use
_PG_REFUSED_CLASSES = frozenset(
    {
        "22",  # data exception: bad encoding (NUL), out of range, too long, bad JSON
        "23",  # integrity constraint violation: CHECK, NOT NULL, UNIQUE, FOREIGN KEY
        "54",  # program limit exceeded: a value too big for an index row
    }
)
_PG_REFUSED_STATES = frozenset({"P0001", "P0004"})  # a trigger's RAISE EXCEPTION, ASSERT

_SQLITE_TRANSIENT = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_INTERRUPT", "SQLITE_FULL")
"""Prefixes of `sqlite_errorname` (extended codes such as SQLITE_BUSY_SNAPSHOT included).
SQLITE_FULL is a full disk, which space freed cures."""


def classify_store_error(error: BaseException) -> StoreErrorKind | None:
    """The kind of a database error; None for an exception that is not one."""
    if isinstance(error, StoreConflict):
        return StoreErrorKind.TRANSIENT
    if isinstance(error, TransactionLost):  # never a refusal: the batch cannot be split
        transient = classify_store_error(error.cause) is StoreErrorKind.TRANSIENT
        return StoreErrorKind.TRANSIENT if transient else StoreErrorKind.FATAL
    if isinstance(error, psycopg.Error):
        return _classify_postgres(error)
    if isinstance(error, sqlite3.Error):
        return _classify_sqlite(error)
    return None


def is_transient(error: BaseException) -> bool:
    return classify_store_error(error) is StoreErrorKind.TRANSIENT


def is_refusal(error: BaseException) -> bool:
    return classify_store_error(error) is StoreErrorKind.REFUSED


def _classify_postgres(error: psycopg.Error) -> StoreErrorKind:
    state = error.sqlstate
    if state is None:  # raised by psycopg itself, before or without the server
        if isinstance(error, psycopg.OperationalError):
            return StoreErrorKind.TRANSIENT  # connection refused, lost, or closed under us
        if isinstance(error, psycopg.DataError):
            return StoreErrorKind.REFUSED  # a value it cannot send (NUL in text)
        if isinstance(error, psycopg.InterfaceError) and "closed" in str(error):
            return StoreErrorKind.TRANSIENT  # the connection died earlier: reopened next time
        return StoreErrorKind.FATAL
    if state[:2] in _PG_TRANSIENT_CLASSES or state in _PG_TRANSIENT_STATES:
        return StoreErrorKind.TRANSIENT
    if state[:2] in _PG_REFUSED_CLASSES or state in _PG_REFUSED_STATES:
        return StoreErrorKind.REFUSED
    return StoreErrorKind.FATAL


def _classify_sqlite(error: sqlite3.Error) -> StoreErrorKind:
    name = getattr(error, "sqlite_errorname", None) or ""
    if name.startswith(_SQLITE_TRANSIENT):
        return StoreErrorKind.TRANSIENT
    if not name and isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
        return StoreErrorKind.TRANSIENT
    if isinstance(error, sqlite3.DataError | sqlite3.IntegrityError):
        return StoreErrorKind.REFUSED  # too big, a constraint or a trigger's RAISE(ABORT)
    return StoreErrorKind.FATAL


_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")
_LONG_NUMBER = re.compile(r"\d{7,}")
_MAX_MESSAGE = 200


def _redacted(message: str) -> str:
    """The first line, without quoted parts (where databases echo values) or long numbers."""
    first = message.strip().split("\n", 1)[0]
    text = _LONG_NUMBER.sub("…", _QUOTED.sub('"…"', scrub_text(first)))
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def describe_store_error(error: BaseException) -> str:
    """The error for a reason, a log line or the CLI: class, codes, objects; no values."""
    kind = type(error).__name__
    if isinstance(error, psycopg.Error) and error.sqlstate is not None:
        diag = error.diag
        parts = [f"{kind} (SQLSTATE {error.sqlstate})"]
        if not error.sqlstate.startswith("P0"):  # a trigger's own text may quote values
            parts.append(_redacted(diag.message_primary or ""))
        objects = [
            f"{label} {name}"
            for label, name in (
                ("table", diag.table_name),
                ("column", diag.column_name),
                ("constraint", diag.constraint_name),
                ("type", diag.datatype_name),
            )
            if name
        ]
        if objects:
            parts.append(", ".join(objects))
        return ": ".join(p for p in parts if p)
    if isinstance(error, sqlite3.Error):
        name = getattr(error, "sqlite_errorname", None)
        head = f"{kind} ({name})" if name else kind
        return f"{head}: {_redacted(str(error))}"
    if isinstance(error, TransactionLost):
        return f"the database ended the transaction: {describe_store_error(error.cause)}"
    if isinstance(error, psycopg.Error | StoreConflict):
        return f"{kind}: {_redacted(str(error))}"
    return kind


def store_failure(error: BaseException, doing: str) -> GovbusError:
    """A store error as a refusal with a stable code, for the CLI's one line."""
    code = (
        ErrorCode.STORE_UNAVAILABLE
        if classify_store_error(error) is StoreErrorKind.TRANSIENT
        else ErrorCode.STORE_FAILED
    )
    return GovbusError(code, f"{doing}: {describe_store_error(error)}")


@contextmanager
def store_errors_as_refusals(doing: str) -> Iterator[None]:
    """Let database errors out as `GovbusError`s (one line, no traceback, in the CLI)."""
    try:
        yield
    except Exception as error:
        if classify_store_error(error) is None:
            raise
        raise store_failure(error, doing) from error
