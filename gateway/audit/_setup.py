"""The audit log the gateway runs with, built from its settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from govbus import checkout_root
from govbus.dev.paths import state_root
from govbus.gateway._db import Database
from govbus.gateway._settings import GatewaySettings
from govbus.gateway.audit._log import ChainedAuditLog
from govbus.gateway.audit._mirror import KafkaMirror
from govbus.gateway.audit._signing import (
    DEV_KEY_NAME,
    AuditKeyError,
    CheckpointSigner,
    load_private_key,
    signing_key_path,
)
from govbus.gateway.audit._store import AuditStore


def audit_key_path(settings: GatewaySettings) -> Path:
    """The signing key file; in a checkout, generated when the setting is unset."""
    return signing_key_path(settings.audit_signing_key, checkout_root(), state_root())


def public_key_path(settings: GatewaySettings) -> Path:
    """Where verify finds the key by default: the signing key file (its public half)."""
    if settings.audit_signing_key is not None:
        return settings.audit_signing_key
    if checkout_root() is None:
        raise AuditKeyError(
            "no key to verify with: pass --public-key PATH or set GOVBUS_AUDIT_SIGNING_KEY",
            "AUDIT_KEY_MISSING",
        )
    return state_root() / DEV_KEY_NAME


def open_audit_log(settings: GatewaySettings, db: Database) -> ChainedAuditLog:
    """The chained log on `db`, mirrored to Kafka when configured; `start()` it in the lifespan."""
    store = AuditStore(db)
    signer = CheckpointSigner(load_private_key(audit_key_path(settings)))
    mirror = (
        KafkaMirror(store, settings, settings.audit_topic)
        if settings.audit_mirror_enabled()
        else None
    )
    return ChainedAuditLog(
        store,
        signer,
        checkpoint_every=settings.audit_checkpoint_every,
        checkpoint_seconds=settings.audit_checkpoint_seconds,
        mirror=mirror,
    )


@asynccontextmanager
async def audit_running(log: ChainedAuditLog) -> AsyncIterator[None]:
    """The log's timer and mirror for the server's lifetime; the head is signed and flushed
    on the way out. Enter it first in the lifespan, so it closes after every part that writes."""
    log.start()
    try:
        yield
    finally:
        await asyncio.to_thread(log.close)
