"""Lookups and claim checks from the base store, under the caller's grants.

`GET /v1/persons/{id}` (and legal entities, certificates, batch forms) return the granted
fields, masked as granted, with their provenance; `POST .../verify` answers claims true or
false without a value. Which fields leave is decided by `govbus.grant_disclosure` only.
"""

from govbus.gateway.lookups._router import lookups_router
from govbus.gateway.lookups._service import LOOKUP_DELIVERIES, VERIFY_DELIVERIES, LookupService

__all__ = ["LOOKUP_DELIVERIES", "VERIFY_DELIVERIES", "LookupService", "lookups_router"]
