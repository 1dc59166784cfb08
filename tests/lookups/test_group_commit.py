"""The lookups' audit group commit: records of many threads chained in few transactions,
each caller back only once its record is in the chain, which verifies, checkpoints included."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from govbus.gateway._db import open_database
from govbus.gateway.audit import AuditRecord, GroupCommit, load_public_key, verify_database
from tests.gateway.audit_helpers import key_file, make_log


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_database"))
    return f"sqlite:///{tmp_path / 'gateway.db'}"


def test_concurrent_appends_chain_once_each_and_verify(db_url: str, tmp_path: Path) -> None:
    key = key_file(tmp_path)
    log = make_log(db_url, key, every=7)
    group = GroupCommit(log)
    seen: list[int] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        for i in range(25):
            group.append(AuditRecord(actor=f"t{n}", action="lookup.served", records=i))
            with lock:  # the record is committed when append returns
                seen.append(log.store.head_seq())

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    group.close()
    report = verify_database(open_database(db_url), load_public_key(key))
    assert report.intact, report.problem
    assert report.entries == 200 and report.checkpoints >= 200 // 7
    assert min(seen) >= 1 and max(seen) == 200
    entries = list(log.store.all_entries())
    assert sorted((e.actor, e.records) for e in entries) == sorted(
        (f"t{n}", i) for n in range(8) for i in range(25)
    )
    with pytest.raises(RuntimeError):
        group.append(AuditRecord(actor="late", action="lookup.served"))
