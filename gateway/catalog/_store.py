"""The catalog the gateway serves: loaded (and validated) once, when the app is built."""

from __future__ import annotations

from pathlib import Path

from govbus import Catalog, CatalogEntry, Settings, catalog_entries, load_catalog


class CatalogStore:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._entries = {entry.code: entry for entry in catalog_entries(catalog)}

    @classmethod
    def from_settings(cls, settings: Settings) -> CatalogStore:
        directory: Path = settings.schemas_dir
        return cls(load_catalog(directory / "catalog.yaml"))

    def entries(self) -> list[CatalogEntry]:
        return list(self._entries.values())

    def entry(self, code: str) -> CatalogEntry | None:
        return self._entries.get(code)
