"""The gateway application: a thin composition of routers over shared state.

Add a router by passing it in `extra_routers` or by listing it in `create_app` below.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from govbus import checkout_root, load_contract
from govbus.gateway._auth import CredentialStore
from govbus.gateway._credentials import credentials_file
from govbus.gateway._db import open_database
from govbus.gateway._errors import install_error_handlers
from govbus.gateway._ingest import ingest_router
from govbus.gateway._settings import GatewaySettings
from govbus.gateway.acls import gateway_reconciler
from govbus.gateway.audit import MemoryAuditLog
from govbus.gateway.registry import RegistryStore, registry_router


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Background work of the gateway: the ACL reconciler (when `gateway_acls` is on)."""
    settings: GatewaySettings = app.state.settings
    app.state.acls = None
    if settings.gateway_acls:
        catalog = load_contract(settings).catalog
        # Until the subscription workflow is merged there is no grant store: no grants.
        app.state.acls = gateway_reconciler(settings, catalog, lambda at: (), app.state.audit)
        app.state.acls.start(settings.gateway_acl_interval_seconds)
    try:
        yield
    finally:
        if app.state.acls is not None:
            app.state.acls.stop()


def create_app(settings: GatewaySettings, extra_routers: Sequence[APIRouter] = ()) -> FastAPI:
    app = FastAPI(
        title="govbus gateway", version="0.1.0", docs_url=None, redoc_url=None, lifespan=lifespan
    )
    app.state.settings = settings
    app.state.credentials = CredentialStore.from_file(
        credentials_file(settings.gateway_credentials, checkout_root())
    )
    app.state.db = open_database(settings.gateway_db)
    app.state.registry = RegistryStore(app.state.db)
    app.state.audit = MemoryAuditLog()
    install_error_handlers(app)
    app.include_router(registry_router)
    app.include_router(ingest_router)
    for router in extra_routers:
        app.include_router(router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
