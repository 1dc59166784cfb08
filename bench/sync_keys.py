"""Parts of `python -m bench.sync` about keys and dedup state (imported from there; also
`python -m bench.sync_keys [--events N] [--entities N] [--rounds N]` alone):

1. Hot keys: the same events (count, fields, sizes) with each batch's 5000 events on 5 keys
   (1000 updates of each key in one batch) against spread keys (5000 keys a batch, of
   `--entities`, as `bench.sync` itself), both
   into SQLite and PostgreSQL, same run, alternating, best of `--rounds`; and both against
   the raw bulk upsert of `bench.sync` (spread keys: one row per event).
2. The dedup table after a long run: N events over 90 simulated days with the 30-day
   retention (`DedupPruner` between batches, as the sync runs it) against no pruning: ids
   kept and the table's size with its indexes, on both backends (PostgreSQL: VACUUM after
   each batch, as autovacuum would do over 90 real days; SQLite reuses freed pages itself).

Needs BENCH_PG_DSN for the PostgreSQL lines.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg

from bench.sync import (
    BATCH,
    make_events,
    reset_postgres,
    time_apply,
    time_raw_postgres,
    time_raw_sqlite,
)
from govbus import Settings, load_contract
from govbus.consumers import SourcedEvent, apply_batch, open_store
from govbus.consumers._dedup_retention import DedupPruner

HOT_KEYS = 5
"""Keys per batch of the hot run: BATCH / HOT_KEYS updates of each key in each batch."""


def bench_hot_keys(events: int, entities: int, dsn: str | None, rounds: int) -> None:
    spread = make_events(events, max(entities, BATCH))
    hot = make_events(events, HOT_KEYS)
    print(
        f"## hot keys: {events} events, batches of {BATCH} on {HOT_KEYS} keys "
        f"({BATCH // HOT_KEYS} updates of a key a batch) vs on {BATCH} keys "
        f"({max(entities, BATCH)} in all)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        n = iter(range(1_000_000))
        _hot_line(
            "SQLite    ",
            rounds,
            lambda data: time_apply(f"sqlite:///{tmp}/{next(n)}.db", data),
            lambda: time_raw_sqlite(f"{tmp}/{next(n)}.db", spread),
            spread,
            hot,
        )
    if dsn:

        def ours(data: list[SourcedEvent]) -> float:
            reset_postgres(dsn)
            return time_apply(dsn, data)

        _hot_line("PostgreSQL", rounds, ours, lambda: time_raw_postgres(dsn, spread), spread, hot)


def _hot_line(
    name: str,
    rounds: int,
    ours: Callable[[list[SourcedEvent]], float],
    raw: Callable[[], float],
    spread: list[SourcedEvent],
    hot: list[SourcedEvent],
) -> None:
    spread_rates, hot_rates, raw_rates = [], [], []
    for _ in range(rounds):  # alternating: the machine's load drifts
        spread_rates.append(ours(spread))
        hot_rates.append(ours(hot))
        raw_rates.append(raw())
    best_spread, best_hot, best_raw = max(spread_rates), max(hot_rates), max(raw_rates)
    per_round = " ".join(f"{h / s:.2f}" for h, s in zip(hot_rates, spread_rates, strict=True))
    print(
        f"{name} hot {best_hot:8.0f} ev/s   spread {best_spread:8.0f} ev/s   "
        f"raw {best_raw:8.0f} rows/s   hot/spread {best_hot / best_spread:.2f}   "
        f"hot/raw {best_hot / best_raw:.2f}   spread/raw {best_spread / best_raw:.2f}   "
        f"(best of {rounds}; hot/spread per round {per_round})"
    )


def _sqlite_size(path: str) -> int:
    with sqlite3.connect(path) as conn:
        (size,) = conn.execute(
            "SELECT sum(pgsize) FROM dbstat WHERE name IN (SELECT name FROM sqlite_master "
            "WHERE tbl_name = 'processed_events')"
        ).fetchone()
    return int(size or 0)


def _postgres_size(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT pg_total_relation_size('processed_events')").fetchone()
    return int(row[0]) if row else 0


def _vacuum(dsn: str) -> Callable[[], None]:
    """What autovacuum does between batches of a real run (here 90 days pass in a minute):
    it marks the pruned ids' space free for the next ones."""

    def run() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM processed_events")

    return run


def _long_run(
    url: str,
    events: int,
    days: int,
    retention_days: int | None,
    vacuum: Callable[[], None] = lambda: None,
) -> tuple[int, float]:
    """Apply `events` spread evenly over `days` simulated days; pruning after each batch
    (None: none), then `vacuum`. The ids kept and the seconds spent pruning."""
    data = make_events(events, max(events, BATCH))
    settings = Settings()
    catalog = load_contract(settings).catalog
    store = open_store(url)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    step = timedelta(days=days) * BATCH / events
    pruner = DedupPruner(store, timedelta(days=retention_days or 1))
    pruning = 0.0
    for n, i in enumerate(range(0, events, BATCH)):
        now = start + step * n
        apply_batch(
            store, data[i : i + BATCH], catalog=catalog, group="bench", now=now, native=True
        )
        if retention_days is not None:
            t0 = time.perf_counter()
            pruner.prune(now)
            pruning += time.perf_counter() - t0
        vacuum()
    kept = store.processed_count()
    store.close()
    return kept, pruning


def bench_dedup(events: int, dsn: str | None, days: int = 90, retention: int = 30) -> None:
    print(
        f"## dedup table after {events} events over {days} simulated days, "
        f"{retention}-day retention, pruned between batches of {BATCH} vs never"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for label, keep in (("pruned", retention), ("never ", None)):
            path = f"{tmp}/{label.strip()}.db"
            kept, spent = _long_run(f"sqlite:///{path}", events, days, keep)
            print(
                f"SQLite     {label} {kept:7d} ids, {_sqlite_size(path) / 1e6:5.1f} MB"
                + (f", pruning {spent * 1000 / (events / BATCH):.1f} ms a batch" if keep else "")
            )
    if dsn:
        for label, keep in (("pruned", retention), ("never ", None)):
            reset_postgres(dsn)
            kept, spent = _long_run(dsn, events, days, keep, _vacuum(dsn))
            print(
                f"PostgreSQL {label} {kept:7d} ids, {_postgres_size(dsn) / 1e6:5.1f} MB"
                + (f", pruning {spent * 1000 / (events / BATCH):.1f} ms a batch" if keep else "")
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--entities", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    dsn = os.environ.get("BENCH_PG_DSN")
    bench_hot_keys(args.events, args.entities, dsn, args.rounds)
    bench_dedup(args.events, dsn)


if __name__ == "__main__":
    main()
