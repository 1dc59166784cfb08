"""The guard: HTTP API, schema registry, permissions, audit and operations."""
