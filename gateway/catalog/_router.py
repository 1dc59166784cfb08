"""`GET /v1/catalog` and `GET /v1/catalog/{resource}`: any authenticated principal."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from govbus import CatalogEntry
from govbus.gateway._auth import Principal, current_principal
from govbus.gateway.catalog._models import CatalogListing
from govbus.gateway.catalog._service import find_entry
from govbus.gateway.catalog._store import CatalogStore

catalog_router = APIRouter(tags=["catalog"])
reader = Depends(current_principal)


def _store(request: Request) -> CatalogStore:
    store: CatalogStore = request.app.state.catalog_store
    return store


@catalog_router.get("/v1/catalog")
def list_catalog(request: Request, _: Principal = reader) -> CatalogListing:
    """Every resource: provider, fields with sharing type and mask, update cycle, topic, and
    the GB/T 21063.3 core metadata."""
    return CatalogListing(resources=_store(request).entries())


@catalog_router.get("/v1/catalog/{resource}")
def get_catalog_entry(resource: str, request: Request, _: Principal = reader) -> CatalogEntry:
    """One resource by its code (BR-PERSON); 404 RESOURCE_NOT_FOUND for any other value."""
    return find_entry(_store(request), resource)
