"""Departments' SASL/SCRAM users on the secured broker, through Kafka's admin API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

# confluent_kafka.admin imports these without re-exporting them (no __all__).
from confluent_kafka.admin._scram import (
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from govbus.gateway._errors import ApiError

SCRAM_ITERATIONS = 8192


class KafkaUsers(Protocol):
    """Creates, re-keys and removes a broker user; `enabled` False when there is no SASL."""

    enabled: bool

    def upsert(self, user: str, password: str) -> None: ...

    def delete(self, user: str) -> None: ...


class ScramUsers:
    """SCRAM credentials with `alter_user_scram_credentials`, as the gateway's admin user."""

    def __init__(self, admin_config: Mapping[str, Any], timeout: float = 30.0) -> None:
        self._config = dict(admin_config)
        protocol = str(self._config.get("security.protocol", "PLAINTEXT")).upper()
        self.enabled = protocol.startswith("SASL")
        mechanism = str(self._config.get("sasl.mechanism", "SCRAM-SHA-512")).upper()
        self._mechanism = (
            ScramMechanism.SCRAM_SHA_256
            if mechanism == "SCRAM-SHA-256"
            else ScramMechanism.SCRAM_SHA_512
        )
        self._timeout = timeout

    def _alter(self, change: Any, *, missing_ok: bool = False) -> None:
        admin = AdminClient(self._config)
        try:
            for future in admin.alter_user_scram_credentials([change]).values():
                future.result(self._timeout)
        except TimeoutError as exc:
            raise ApiError(
                502, "KAFKA_UNAVAILABLE", "the broker did not answer the SCRAM change"
            ) from exc
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if (
                missing_ok
                and isinstance(error, KafkaError)
                and error.code() in (KafkaError.RESOURCE_NOT_FOUND,)
            ):
                return
            name = error.name() if isinstance(error, KafkaError) else type(exc).__name__
            raise ApiError(
                502, "KAFKA_UNAVAILABLE", f"the broker refused the SCRAM change: {name}"
            ) from exc

    def upsert(self, user: str, password: str) -> None:
        info = ScramCredentialInfo(self._mechanism, SCRAM_ITERATIONS)
        self._alter(UserScramCredentialUpsertion(user, info, password.encode()))

    def delete(self, user: str) -> None:
        self._alter(UserScramCredentialDeletion(user, self._mechanism), missing_ok=True)
