"""Shared pieces of the subscription tests: the catalog, principals, a clock, a service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from govbus import Catalog, Settings, load_catalog
from govbus.gateway._auth import Principal
from govbus.gateway._db import open_database
from govbus.gateway.audit import MemoryAuditLog
from govbus.gateway.subscriptions import SubscriptionRequest, SubscriptionService

BANK = Principal(name="bank01", department="BANK01", roles=frozenset({"subscriber"}))
BANK_TWO = Principal(name="bank02", department="BANK02", roles=frozenset({"subscriber"}))
AMR = Principal(name="amr", department="AMR", roles=frozenset({"provider"}))
PSB = Principal(name="psb", department="PSB", roles=frozenset({"provider"}))
ADMIN = Principal(name="data-bureau", department="DATA", roles=frozenset({"admin"}))
# A 2026 Tuesday, 10:00 in Beijing: inside the calendar's known years.
START = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def ask(
    resource: str,
    fields: list[str],
    *,
    delivery: str = "kafka",
    expires_on: str | None = None,
) -> SubscriptionRequest:
    return SubscriptionRequest.model_validate(
        {
            "resource": resource,
            "fields": fields,
            "purpose": "housing-loan applicant checks",
            "legal_basis": "provincial data-sharing rules, art. 12",
            "delivery": delivery,
            "expires_on": expires_on,
        }
    )


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(Settings().schemas_dir / "catalog.yaml")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def audit() -> MemoryAuditLog:
    return MemoryAuditLog()


ServiceFactory = Callable[[str], SubscriptionService]


@pytest.fixture
def make_service(catalog: Catalog, clock: Clock, audit: MemoryAuditLog) -> ServiceFactory:
    def make(url: str) -> SubscriptionService:
        return SubscriptionService(open_database(url), catalog, audit, clock=clock)

    return make


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test that takes it runs on SQLite and on a fresh PostgreSQL database."""
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_database"))
    return f"sqlite:///{tmp_path / 'gateway.db'}"


@pytest.fixture
def service(make_service: ServiceFactory, database_url: str) -> SubscriptionService:
    return make_service(database_url)
