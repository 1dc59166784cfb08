"""The Kafka users of a department come from the gateway's principals, enabled ones only."""

from __future__ import annotations

from datetime import UTC, datetime

from govbus.gateway.acls import department_users
from govbus.gateway.principals import PrincipalRecord

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def record(
    name: str, department: str | None, kafka_user: str | None, **extra: object
) -> PrincipalRecord:
    return PrincipalRecord.model_validate(
        {
            "name": name,
            "kind": "department",
            "department": department,
            "roles": {"subscriber"},
            "kafka_user": kafka_user,
            "created_at": NOW,
            **extra,
        }
    )


def test_each_department_gets_the_users_of_its_enabled_department_principals() -> None:
    principals = [
        record("bank-app", "BANK01", "bank-app"),
        record("bank-etl", "BANK01", "bank-etl"),
        record("bank-old", "BANK01", "bank-old", disabled_at=NOW),  # disabled: no ACLs
        record("bank-web", "BANK01", None),  # no SCRAM user (HTTP only)
        record("psb-app", "PSB", "psb-app"),
        record("ops", None, "ops", kind="operator"),  # not a department's
        record("psb-svc", "PSB", "psb-svc", kind="service"),  # a service, not the department
    ]
    assert department_users(principals) == {"BANK01": ["bank-app", "bank-etl"], "PSB": ["psb-app"]}
