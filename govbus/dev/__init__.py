"""Developer infrastructure: throwaway Kafka and PostgreSQL servers on loopback.

Nothing here is used in production. `govbus dev ...` and the pytest plugin in
`govbus.testing` drive these launchers; they need Java (Kafka) and the Debian
PostgreSQL binaries, never Docker.
"""
