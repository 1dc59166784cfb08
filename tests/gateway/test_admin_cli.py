"""`govbus admin principals|tokens` through the real command line, on the gateway database."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from govbus.gateway.admin_cli import parse_expiry

from .principals_fixtures import basic, bearer, gateway

GOVBUS = str(Path(sys.executable).with_name("govbus"))


def admin(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GOVBUS_GATEWAY")}
    env = clean | {
        "GOVBUS_GATEWAY_DB": f"sqlite:///{tmp_path / 'gateway.db'}",
        "GOVBUS_GATEWAY_TOKEN_KEY_FILE": str(tmp_path / "token.key"),
    }
    return subprocess.run(
        [GOVBUS, "admin", *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_a_provider_and_a_subscriber_in_a_few_commands(tmp_path: Path) -> None:
    made = admin(tmp_path, "principals", "create", "psb-app", "--role", "provider",
                 "--department", "PSB")  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stdout == ""  # a plain broker: no SCRAM password to show
    sub = admin(tmp_path, "principals", "create", "bank-app", "--role", "subscriber",
                "--department", "BANK01")  # fmt: skip
    assert sub.returncode == 0, sub.stderr
    issued = admin(tmp_path, "tokens", "create", "bank-app", "--expires", "30d")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert token.startswith("gbt_") and token not in (tmp_path / "gateway.db").read_bytes().decode(
        "latin-1"
    )
    listed = admin(tmp_path, "principals", "list").stdout.splitlines()
    # The first use seeded the database from the development credentials file.
    assert any(line.startswith("registry-admin\tadmin\t") for line in listed)
    assert "bank-app\tdepartment\tBANK01\tsubscriber\t-\tenabled" in listed

    _, client = gateway(tmp_path)  # the same database and key
    me = client.get("/v1/me", headers=bearer(token))
    assert me.status_code == 200 and me.json()["name"] == "bank-app"

    [line] = admin(tmp_path, "tokens", "list", "bank-app").stdout.splitlines()
    token_id = line.split("\t")[0]
    rotated = admin(tmp_path, "tokens", "rotate", token_id)
    assert rotated.returncode == 0, rotated.stderr
    assert client.get("/v1/me", headers=bearer(token)).status_code == 401
    new = rotated.stdout.strip()
    assert client.get("/v1/me", headers=basic("bank-app", new)).status_code == 200
    assert admin(tmp_path, "principals", "disable", "bank-app").returncode == 0
    assert client.get("/v1/me", headers=bearer(new)).status_code == 401
    assert admin(tmp_path, "principals", "remove", "bank-app").returncode == 0
    assert "bank-app" not in admin(tmp_path, "principals", "list").stdout


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("principals", "create", "x", "--role", "provider", "--department", "NOPE"),
         "UNKNOWN_DEPARTMENT"),
        (("principals", "create", "bad name", "--role", "provider"), "INVALID_PRINCIPAL"),
        (("principals", "create", "psb", "--role", "provider"), "PRINCIPAL_EXISTS"),
        (("principals", "create", "y", "--role", "provider", "--department", "PSB", "--kafka"),
         "KAFKA_NOT_SECURED"),
        (("principals", "disable", "nobody"), "NOT_FOUND"),
        (("tokens", "create", "psb", "--expires", "soon"), "INVALID_EXPIRY"),
        (("tokens", "create", "psb", "--expires", "2020-01-01"), "INVALID_EXPIRY"),
        (("tokens", "revoke", "0123456789abcdef"), "NOT_FOUND"),
    ],
)  # fmt: skip
def test_refusals_are_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...], code: str) -> None:
    refused = admin(tmp_path, *args)
    assert refused.returncode == 2, refused.stderr
    [line] = [x for x in refused.stderr.splitlines() if x.startswith("error ")]
    assert line.startswith(f"error {code}: "), line


def test_expiry_is_a_duration_or_a_date() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    assert parse_expiry("30d", now) == now + timedelta(days=30)
    assert parse_expiry("12h", now) == now + timedelta(hours=12)
    assert parse_expiry("2027-01-31", now) == datetime(2027, 1, 31, tzinfo=UTC)
    assert parse_expiry(None, now) is None


def test_the_admin_group_keeps_the_other_roles_commands(tmp_path: Path) -> None:
    helped = admin(tmp_path, "--help")
    for command in ("principals", "tokens", "topics", "acls"):
        assert command in helped.stdout, helped.stdout
