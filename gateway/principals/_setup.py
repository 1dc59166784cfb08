"""A PrincipalService from the gateway settings: database, token key, SCRAM, catalog."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import structlog

from govbus import Catalog, admin_config, checkout_root, load_contract
from govbus.gateway._auth import CredentialEntry, CredentialsError, CredentialStore
from govbus.gateway._credentials import credentials_file
from govbus.gateway._db import open_database
from govbus.gateway._settings import GatewaySettings
from govbus.gateway.audit import AuditSink
from govbus.gateway.principals._scram import ScramUsers
from govbus.gateway.principals._secrets import TokenKeyError, load_token_key
from govbus.gateway.principals._service import PrincipalService
from govbus.gateway.principals._store import PrincipalStore

DEV_TOKEN_KEY = Path(".govbus") / "gateway-token.key"
log = structlog.get_logger("gateway")


def token_key(settings: GatewaySettings) -> bytes:
    """The configured key (made when its file is absent), else the checkout's dev key."""
    path = settings.gateway_token_key_file
    if path is None:
        root = checkout_root()
        if root is None:
            raise TokenKeyError(
                "no token key: set GOVBUS_GATEWAY_TOKEN_KEY_FILE=PATH (a new key is written "
                "there when the file is absent; every gateway on this database needs it)",
                "TOKEN_KEY_MISSING",
            )
        path = root / DEV_TOKEN_KEY
    elif not path.exists():
        log.warning("gateway writes a new token key", path=str(path))
    return load_token_key(path, create=True)


def principal_service(
    settings: GatewaySettings, audit: AuditSink, store: PrincipalStore | None = None
) -> PrincipalService:
    """The service over the gateway database, with SCRAM users on a SASL broker."""
    store = store or PrincipalStore(open_database(settings.gateway_db))

    @cache  # loaded on first use: the gateway starts without reading the catalog
    def catalog() -> Catalog:
        return load_contract(settings).catalog

    def check_department(code: str) -> object:
        return catalog().department(code)

    return PrincipalService(
        store,
        token_key(settings),
        audit,
        kafka_users=ScramUsers(admin_config(settings)),
        check_department=check_department,
    )


def credentials_seed(
    store: PrincipalStore, settings: GatewaySettings, *, required: bool
) -> tuple[CredentialEntry, ...]:
    """The credentials file's principals when the table is empty (the first admin), else ().

    `required`: an empty table without a credentials file is a refusal (CREDENTIALS_MISSING),
    as for the gateway itself; else (the admin CLI) it stays empty.
    """
    if store.count():
        return ()
    try:
        path = credentials_file(settings.gateway_credentials, checkout_root())
    except CredentialsError:
        if required:
            raise
        return ()
    return CredentialStore.from_file(path).entries
