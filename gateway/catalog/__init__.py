"""The catalog, browsable: every resource with its sharing rules and core metadata."""

from govbus.gateway.catalog._router import catalog_router
from govbus.gateway.catalog._store import CatalogStore

__all__ = ["CatalogStore", "catalog_router"]
