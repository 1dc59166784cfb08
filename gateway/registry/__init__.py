"""A Confluent-compatible schema registry, stored in the gateway database."""

from govbus.gateway.registry._router import registry_router
from govbus.gateway.registry._store import RegistryStore

__all__ = ["RegistryStore", "registry_router"]
