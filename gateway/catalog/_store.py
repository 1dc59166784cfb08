"""The catalog the gateway serves: loaded (and validated) once, when the app is built."""

from __future__ import annotations

from govbus import Catalog, CatalogEntry, catalog_entries


class CatalogStore:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._entries = {entry.code: entry for entry in catalog_entries(catalog)}

    def entries(self) -> list[CatalogEntry]:
        return list(self._entries.values())

    def entry(self, code: str) -> CatalogEntry | None:
        return self._entries.get(code)
