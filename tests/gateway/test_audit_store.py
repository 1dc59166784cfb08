"""The chain in the gateway database, on SQLite and PostgreSQL: concurrent appends chain one
after the other, and `govbus audit verify` names every kind of tampering done in SQL."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from govbus.gateway._db import Database
from govbus.gateway.audit import (
    AuditRecord,
    ChainedAuditLog,
    load_public_key,
    next_entry,
    verify_database,
)
from tests.gateway.audit_helpers import access, key_file, make_log, verify

GOVBUS = str(Path(sys.executable).with_name("govbus"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gateway.db'}"
    dsn: str = request.getfixturevalue("pg_database")
    return dsn


@pytest.fixture
def key(tmp_path: Path) -> Path:
    return key_file(tmp_path)


def filled(db_url: str, key: Path, n: int = 12) -> ChainedAuditLog:
    """`n` entries, checkpoints every 5 (at 5 and 10 for 12)."""
    log = make_log(db_url, key, every=5)
    for i in range(n):
        log.append(access(i))
    return log


def run_sql(db: Database, *statements: tuple[str, tuple[object, ...]]) -> None:
    with db.transaction(write=True) as tx:
        for sql, params in statements:
            tx.execute(sql, params)


def refused(db_url: str, key: Path) -> str:
    result = verify("--db", db_url, "--public-key", str(key))
    assert result.exit_code == 1, result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("error AUDIT_TAMPERED: ")
    return line.removeprefix("error AUDIT_TAMPERED: ").removesuffix(" (database)")


def test_concurrent_appends_chain_one_after_the_other(db_url: str, key: Path) -> None:
    log = make_log(db_url, key, every=7)
    workers = [
        threading.Thread(target=lambda: [log.append(access(i)) for i in range(15)])
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    report = verify_database(log.store.db, load_public_key(key))
    assert report.intact, report.problem
    assert report.entries == 60 and report.head_seq == 60
    times = [e.at for e in log.store.all_entries()]
    assert times == sorted(times)  # stamped under the write lock
    assert [c.seq for c in log.store.all_checkpoints()] == [7, 14, 21, 28, 35, 42, 49, 56]


def test_an_intact_log_verifies_and_says_what_is_unsigned(db_url: str, key: Path) -> None:
    filled(db_url, key)
    result = verify("--db", db_url, "--public-key", str(key))
    assert result.exit_code == 0, result.output
    assert "12 entries, 2 checkpoints, last checkpoint seq 10" in result.output
    assert "2 entries after it not yet signed" in result.output


def test_an_edited_entry(db_url: str, key: Path) -> None:
    log = filled(db_url, key)
    run_sql(log.store.db, ("UPDATE audit_entries SET records = 999 WHERE seq = ?", (3,)))
    assert refused(db_url, key) == "entry 3 altered (its content does not match its hash)"


def test_an_edited_entry_with_its_hash_recomputed(db_url: str, key: Path) -> None:
    log = filled(db_url, key)
    [entry] = [e for e in log.store.all_entries() if e.seq == 3]
    forged = entry.model_copy(update={"actor": "nobody"})
    forged = forged.model_copy(update={"hash": forged.computed_hash()})
    run_sql(
        log.store.db,
        ("UPDATE audit_entries SET actor = ?, hash = ? WHERE seq = 3", ("nobody", forged.hash)),
    )
    assert refused(db_url, key) == "entry 3 altered (its hash no longer links to entry 4)"


def test_a_deleted_entry(db_url: str, key: Path) -> None:
    log = filled(db_url, key)
    run_sql(log.store.db, ("DELETE FROM audit_entries WHERE seq = ?", (4,)))
    assert refused(db_url, key) == "entry 4 removed"


def test_a_deleted_entry_with_the_rest_renumbered(db_url: str, key: Path) -> None:
    log = filled(db_url, key)
    moves = [("UPDATE audit_entries SET seq = ? WHERE seq = ?", (s - 1, s)) for s in range(5, 13)]
    run_sql(log.store.db, ("DELETE FROM audit_entries WHERE seq = 4", ()), *moves)
    assert refused(db_url, key) == "entry 4 removed (the entries after it were renumbered)"


def test_an_inserted_entry(db_url: str, key: Path) -> None:
    log = filled(db_url, key)
    third = next(e for e in log.store.all_entries() if e.seq == 3)
    forged = next_entry((3, third.hash), third.at, AuditRecord(actor="forger", action="x.y"))
    moves = [
        ("UPDATE audit_entries SET seq = ? WHERE seq = ?", (s + 1, s)) for s in range(12, 3, -1)
    ]
    insert = (
        "INSERT INTO audit_entries (seq, at, actor, action, fields, outcome, prev_hash, hash) "
        "VALUES (4, ?, ?, ?, '[]', ?, ?, ?)",
        (forged.at, forged.actor, forged.action, forged.outcome, forged.prev_hash, forged.hash),
    )
    run_sql(log.store.db, *moves, insert)
    assert refused(db_url, key) == "entry 4 inserted (the entries after it were renumbered)"


def test_a_tail_cut_before_the_last_checkpoint(db_url: str, key: Path) -> None:
    log = filled(db_url, key)
    run_sql(log.store.db, ("DELETE FROM audit_entries WHERE seq > ?", (7,)))
    assert refused(db_url, key) == "entries 8-10 missing: the tail was cut before checkpoint 10"


def test_a_tail_cut_with_its_checkpoints_needs_the_other_copy(db_url: str, key: Path) -> None:
    """Documented limit: one copy cut together with its checkpoints looks like an idle log."""
    log = filled(db_url, key)
    run_sql(
        log.store.db,
        ("DELETE FROM audit_entries WHERE seq > ?", (7,)),
        ("DELETE FROM audit_checkpoints WHERE seq > ?", (7,)),
    )
    result = verify("--db", db_url, "--public-key", str(key))
    assert result.exit_code == 0 and "7 entries, 1 checkpoints, last checkpoint seq 5" in (
        result.output
    )


def test_a_forged_checkpoint(db_url: str, key: Path) -> None:
    log = filled(db_url, key)
    run_sql(log.store.db, ("UPDATE audit_checkpoints SET at = ? WHERE seq = 5", ("2020",)))
    assert refused(db_url, key) == "checkpoint 5 has an invalid signature"


def test_the_head_is_signed_on_close(db_url: str, key: Path) -> None:
    log = filled(db_url, key, n=7)
    log.close()
    assert [c.seq for c in log.store.all_checkpoints()] == [5, 7]
    assert log.checkpoint() is None  # nothing new to sign


def test_the_installed_command_prints_one_line_and_exits_non_zero(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'gateway.db'}"
    key = key_file(tmp_path)
    log = filled(db_url, key)
    run_sql(log.store.db, ("DELETE FROM audit_entries WHERE seq = ?", (2,)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVBUS_")}
    done = subprocess.run(
        [GOVBUS, "audit", "verify"],
        env={**env, "GOVBUS_GATEWAY_DB": db_url, "GOVBUS_AUDIT_SIGNING_KEY": str(key)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == "error AUDIT_TAMPERED: entry 2 removed (database)"
