"""Catalog look-ups; an unknown code is 404 without echoing it (it may be a personal value)."""

from __future__ import annotations

from govbus import CatalogEntry
from govbus.gateway._errors import ApiError
from govbus.gateway.catalog._store import CatalogStore


def find_entry(store: CatalogStore, code: str) -> CatalogEntry:
    entry = store.entry(code)
    if entry is None:
        raise ApiError(
            404, "RESOURCE_NOT_FOUND", "no resource with that code in the catalog (see /v1/catalog)"
        )
    return entry
