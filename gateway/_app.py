"""The gateway application: a thin composition of routers over shared state.

Add a router by passing it in `extra_routers` or by listing it in `create_app` below.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import APIRouter, FastAPI

from govbus import load_catalog
from govbus.consumers import open_store_reader
from govbus.gateway._access_log import scrub_access_log
from govbus.gateway._body_limits import BodyLimitMiddleware
from govbus.gateway._db import open_database
from govbus.gateway._errors import error_responses, install_error_handlers
from govbus.gateway._guard import AuthGuard
from govbus.gateway._ingest import ingest_router
from govbus.gateway._openapi import install_openapi
from govbus.gateway._rate_limit import RateLimiter
from govbus.gateway._routes import RouteTable
from govbus.gateway._settings import GatewaySettings
from govbus.gateway.acls import department_users, gateway_reconciler
from govbus.gateway.audit import GroupCommit, audit_router, audit_running, open_audit_log
from govbus.gateway.catalog import CatalogStore, catalog_router
from govbus.gateway.lookups import LookupService, lookups_router
from govbus.gateway.principals import (
    PrincipalStore,
    credentials_seed,
    principal_service,
    principals_router,
)
from govbus.gateway.registry import RegistryStore, registry_router
from govbus.gateway.subscriptions import (
    SubscriptionService,
    subscription_sweeper,
    subscriptions_router,
)
from govbus.gateway.views import keep_views_file


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Background work starts with the server and stops, in reverse order, with it."""
    settings: GatewaySettings = app.state.settings
    async with AsyncExitStack() as background:
        # First in, last out: the parts that write audit records stop before it is flushed.
        await background.enter_async_context(audit_running(app.state.audit))
        await background.enter_async_context(
            subscription_sweeper(app.state.subscriptions, settings.subscription_sweep_seconds)
        )
        background.callback(app.state.lookups.reader.close)
        background.callback(app.state.lookup_audit.close)  # (callbacks run last-in first)
        app.state.acls = None
        if settings.gateway_acls:  # the Kafka ACLs follow the grants: each change wakes it
            principals = app.state.principals
            app.state.acls = gateway_reconciler(
                settings,
                app.state.catalog,
                app.state.subscriptions.active_grants,
                app.state.audit,
                users=lambda: department_users(principals.principals()),
            )
            app.state.subscriptions.on_change(app.state.acls.wake)
            app.state.acls.start(settings.gateway_acl_interval_seconds)
            background.callback(app.state.acls.stop)
        yield


def create_app(settings: GatewaySettings, extra_routers: Sequence[APIRouter] = ()) -> FastAPI:
    app = FastAPI(
        title="govbus gateway",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        lifespan=_lifespan,
        responses=error_responses(401, 422, 429),  # 413 and 404 are added per operation
    )
    app.state.settings = settings
    app.state.db = open_database(settings.gateway_db)
    app.state.audit = open_audit_log(settings, app.state.db)  # before the parts that write to it
    app.state.registry = RegistryStore(app.state.db)
    # The credentials file only seeds an empty database (the first admin); then the DB rules.
    store = PrincipalStore(app.state.db)
    seed = credentials_seed(store, settings, required=True)
    app.state.principals = principal_service(settings, app.state.audit, store)
    app.state.principals.bootstrap(seed)
    app.state.catalog = load_catalog(settings.schemas_dir / "catalog.yaml")
    app.state.subscriptions = SubscriptionService(app.state.db, app.state.catalog, app.state.audit)
    if settings.gateway_views_file is not None:
        keep_views_file(
            app.state.catalog, app.state.subscriptions, settings.gateway_views_file, app.state.audit
        )
    app.state.catalog_store = CatalogStore(app.state.catalog)
    # Read-only and pooled, opened on first use: the store may not exist yet at startup.
    # Every lookup is audited before it is answered, its entry group-committed with others.
    app.state.lookup_audit = GroupCommit(app.state.audit)
    app.state.lookups = LookupService(
        open_store_reader(settings.store_url, pool_size=settings.store_read_pool_size),
        app.state.catalog,
        app.state.subscriptions,
        app.state.lookup_audit,
        settings.pseudonym_key.get_secret_value().encode(),
        on_event_loop=all(
            url.startswith("sqlite:") for url in (settings.store_url, settings.gateway_db)
        ),
    )
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware)
    # Added last, so outermost: a caller is authenticated before any body is read.
    app.add_middleware(
        AuthGuard,
        per_principal=RateLimiter(settings.gateway_rate_per_second, settings.gateway_rate_burst),
        failures=RateLimiter(
            settings.gateway_auth_failures_per_minute / 60, settings.gateway_auth_failures_burst
        ),
    )
    app.include_router(registry_router)
    app.include_router(ingest_router)
    app.include_router(catalog_router)
    app.include_router(principals_router)
    app.include_router(subscriptions_router)
    app.include_router(audit_router)
    app.include_router(lookups_router)
    for router in extra_routers:
        app.include_router(router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    install_openapi(app)
    app.state.routes = RouteTable(app)
    scrub_access_log(app.state.routes)
    return app
