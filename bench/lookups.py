"""Lookups under load, auth included: `python -m bench.lookups [--seconds S] [--rates R,R,...]`.

A real `govbus gateway serve` on 127.0.0.1 over a base store filled by `apply_batch`
(SQLite; PostgreSQL too with BENCH_PG_DSN), a grant made through the subscription API, and
an API token from `govbus admin tokens create`. The load generator is open-loop and
bounded: request i is due at start + i / rate, at most `--in-flight` are outstanding (a
request due while the cap is reached is counted as dropped, not queued), and each latency is
measured from the moment the request was due, so a stalled server is not hidden by a
stalled client. Every request is `GET /v1/persons/{id}` with a Bearer token, of a random
stored person; every answer is checked (200, the granted fields only). Each lookup is also
audited in the gateway database (one chained entry per request), as in production. Side
by side, at each rate, the baseline: `GET /v1/catalog/BR-PERSON` with the same token
through the same server (authentication, rate limit, body cap, access log; no store read,
no audit entry), which is the HTTP stack's own cost on this machine.

The goal (issue 12): p99 <= 10 ms at 1000 req/s. The machine's cores are shared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from govbus import Settings, load_contract
from govbus.consumers import KafkaPosition, SourcedEvent, apply_batch, open_store
from govbus.consumers.testing import citizen_id, person

GOVBUS = str(Path(sys.executable).with_name("govbus"))
BANK = ("bank01", "dev-bank01")
PSB = ("psb", "dev-psb")
PERSONS = 5000
GRANTED = {"name", "marital_status"}


def fill_store(url: str, count: int) -> list[str]:
    keys = [citizen_id(n) for n in range(count)]
    store = open_store(url)
    try:
        catalog = load_contract(Settings()).catalog
        items = [
            SourcedEvent(
                person(k, 1, name="王小明", sex="1", household_address="北京市朝阳区建国路88号"),
                KafkaPosition("govbus.base.person", 0, i),
            )
            for i, k in enumerate(keys)
        ]
        for start in range(0, len(items), 1000):
            apply_batch(store, items[start : start + 1000], catalog=catalog, group="bench")
    finally:
        store.close()
    return keys


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gateway_env(tmp: Path, store_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "GOVBUS_GATEWAY_DB": f"sqlite:///{tmp / 'gateway.db'}",
        "GOVBUS_STORE_URL": store_url,
        "GOVBUS_GATEWAY_TOKEN_KEY_FILE": str(tmp / "token.key"),
        "GOVBUS_AUDIT_SIGNING_KEY": str(tmp / "audit.pem"),
        "GOVBUS_AUDIT_MIRROR": "false",
        "GOVBUS_GATEWAY_RATE_PER_SECOND": "1000000",
        "GOVBUS_GATEWAY_RATE_BURST": "1000000",
        "GOVBUS_LOG_LEVEL": "WARNING",
    }


def start_gateway(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [GOVBUS, "gateway", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the gateway did not start")


def make_grant(base: str) -> None:
    sub = httpx.post(
        f"{base}/v1/subscriptions",
        auth=BANK,
        json={
            "resource": "BR-PERSON",
            "fields": sorted(GRANTED),
            "purpose": "benchmark",
            "legal_basis": "benchmark",
            "delivery": "lookup",
        },
        timeout=30,
    ).json()
    approved = httpx.post(f"{base}/v1/subscriptions/{sub['id']}/approve", auth=PSB, timeout=30)
    assert approved.json()["state"] == "active", approved.text


def bank_token(env: dict[str, str]) -> str:
    out = subprocess.run(
        [GOVBUS, "admin", "tokens", "create", "bank01"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


class _Connection:
    """One keep-alive HTTP/1.1 connection: a request written, its answer read, in turn.

    A few lines of asyncio streams rather than an HTTP client library, so that the load
    generator costs little of the two cores the server needs."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def get(self, path: str, headers: bytes) -> tuple[int, bytes]:
        self.writer.write(f"GET {path} HTTP/1.1\r\n".encode() + headers)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
        body = await self.reader.readexactly(int(length.group(1)) if length else 0)
        return int(head[9:12]), body


async def offered_load(
    port: int,
    token: str,
    keys: list[str],
    rate: int,
    seconds: float,
    in_flight: int,
    baseline: bool = False,
) -> tuple[list[float], int, int]:
    """(latencies in ms, dropped, failed) of `rate * seconds` requests due at a steady rate."""
    headers = f"Host: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    idle: asyncio.Queue[_Connection] = asyncio.Queue()
    opened = []
    for _ in range(in_flight):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        opened.append(writer)
        idle.put_nowait(_Connection(reader, writer))
    latencies: list[float] = []
    failed = dropped = 0

    async def one(conn: _Connection, key: str, due: float) -> None:
        nonlocal failed
        try:
            if baseline:  # authenticated, no store read, no audit entry
                status, _ = await conn.get("/v1/catalog/BR-PERSON", headers)
                failed += status != 200
            else:
                status, body = await conn.get(f"/v1/persons/{key}", headers)
                failed += status != 200 or set(json.loads(body)["fields"]) != GRANTED
        except (OSError, asyncio.IncompleteReadError, ValueError):
            failed += 1
        latencies.append((time.perf_counter() - due) * 1000)
        idle.put_nowait(conn)

    tasks = []
    start = time.perf_counter() + 0.05
    for i in range(int(rate * seconds)):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if idle.empty():  # every connection is busy: the request is dropped, not queued
            dropped += 1
            continue
        tasks.append(asyncio.create_task(one(idle.get_nowait(), random.choice(keys), due)))
    await asyncio.gather(*tasks)
    for writer in opened:
        writer.close()
    return latencies, dropped, failed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def bench(
    label: str,
    store_url: str,
    rates: list[int],
    seconds: float,
    in_flight: int,
    gateway_dir: str | None = None,
) -> None:
    with tempfile.TemporaryDirectory(dir=gateway_dir) as tmp_dir:
        tmp = Path(tmp_dir)
        keys = fill_store(store_url, PERSONS)
        env = gateway_env(tmp, store_url)
        subprocess.run([GOVBUS, "audit", "keygen", str(tmp / "audit.pem")], env=env, check=True)
        port = free_port()
        server = start_gateway(env, port)
        try:
            base = f"http://127.0.0.1:{port}"
            make_grant(base)
            token = bank_token(env)
            asyncio.run(offered_load(port, token, keys, 100, 2, in_flight))  # warm up
            print(f"## {label}: {PERSONS} persons, Bearer token")
            print(
                "| route | offered req/s | achieved req/s | p50 ms | p99 ms | max ms "
                "| dropped | failed |"
            )
            print("|---|---|---|---|---|---|---|---|")
            for rate, baseline in [(r, b) for r in rates for b in (False, True)]:
                began = time.perf_counter()
                latencies, dropped, failed = asyncio.run(
                    offered_load(port, token, keys, rate, seconds, in_flight, baseline)
                )
                achieved = len(latencies) / (time.perf_counter() - began)
                route = "baseline GET /v1/catalog/{r}" if baseline else "GET /v1/persons/{id}"
                print(
                    f"| {route} | {rate} | {achieved:.0f} | {percentile(latencies, 0.5):.2f} | "
                    f"{percentile(latencies, 0.99):.2f} | {max(latencies):.1f} | "
                    f"{dropped} | {failed} |",
                    flush=True,
                )
        finally:
            server.terminate()
            server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rates", default="100,250,500,1000")
    parser.add_argument("--in-flight", type=int, default=64)
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        bench("SQLite store", f"sqlite:///{tmp}/base.db", rates, args.seconds, args.in_flight)
    if Path("/dev/shm").is_dir():
        # The same with the gateway database (where each lookup's audit entry is committed)
        # in memory-backed /dev/shm: what the audit's durable commit costs, side by side.
        with tempfile.TemporaryDirectory() as tmp:
            bench(
                "SQLite store, gateway DB on tmpfs (audit commits without a disk flush)",
                f"sqlite:///{tmp}/base.db",
                rates,
                args.seconds,
                args.in_flight,
                gateway_dir="/dev/shm",
            )
    dsn = os.environ.get("BENCH_PG_DSN")
    if dsn:
        with psycopg_database(dsn) as url:
            bench("PostgreSQL store", url, rates, args.seconds, args.in_flight)


def psycopg_database(dsn: str) -> _FreshDatabase:
    return _FreshDatabase(dsn)


class _FreshDatabase:
    """A new database on the server of `dsn` for one run, dropped afterwards."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.name = f"bench_lookups_{os.getpid()}"

    def __enter__(self) -> str:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {self.name}")
        # A postgresql:// URL (the store's form): the same server, the new database.
        return f"{self.dsn.partition('?')[0].rsplit('/', 1)[0]}/{self.name}"

    def __exit__(self, *_: object) -> None:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


if __name__ == "__main__":
    main()
