"""Response bodies of the catalog routes; an entry is the core's `CatalogEntry`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from govbus import CatalogEntry


class CatalogListing(BaseModel):
    model_config = ConfigDict(frozen=True)

    resources: list[CatalogEntry]
