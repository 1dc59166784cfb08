"""Where the gateway's credentials come from, and `govbus gateway credentials init|add`."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import Result
from structlog.testing import capture_logs
from typer.testing import CliRunner

from govbus import checkout_root
from govbus.gateway._auth import CredentialsError, CredentialStore
from govbus.gateway._credentials import DEV_CREDENTIALS, credentials_file
from govbus.gateway.cli import gateway_app

GOVBUS = str(Path(sys.executable).with_name("govbus"))


def govbus(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GOVBUS_")}
    return subprocess.run(
        [GOVBUS, *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_outside_a_checkout_no_credentials_is_a_refusal_saying_how_to_make_them() -> None:
    with pytest.raises(CredentialsError) as refused:
        credentials_file(None, None)
    assert refused.value.code == "CREDENTIALS_MISSING"
    assert "GOVBUS_GATEWAY_CREDENTIALS" in refused.value.message
    assert "govbus gateway credentials init" in refused.value.message


def test_in_a_checkout_the_dev_file_is_the_default_with_a_warning() -> None:
    root = checkout_root()
    assert root is not None
    with capture_logs() as logs:
        path = credentials_file(None, root)
    assert path == root / DEV_CREDENTIALS and path.is_file()
    [warning] = [e for e in logs if e["log_level"] == "warning"]
    assert "development credentials" in warning["event"]


def test_configured_credentials_are_used_without_a_warning(tmp_path: Path) -> None:
    with capture_logs() as logs:
        assert credentials_file(tmp_path / "c.yaml", checkout_root()) == tmp_path / "c.yaml"
    assert logs == []


def credentials(*args: str) -> Result:
    return CliRunner().invoke(gateway_app, ["credentials", *args])


def test_init_then_add_make_a_file_of_hashes_that_authenticates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GOVBUS_GATEWAY_CREDENTIALS", raising=False)
    made = credentials("init")
    assert made.exit_code == 0, made.output
    admin_secret = made.stdout.strip()
    path = tmp_path / "gateway-credentials.yaml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    added = credentials(
        "add", "psb-app", "--role", "provider", "--department", "PSB", "--file", str(path)
    )
    assert added.exit_code == 0, added.output
    psb_secret = added.stdout.strip()
    text = path.read_text()
    assert admin_secret not in text and psb_secret not in text
    assert [p["name"] for p in yaml.safe_load(text)["principals"]] == ["admin", "psb-app"]

    store = CredentialStore.from_file(path)
    admin = store.authenticate("admin", admin_secret)
    assert admin is not None and admin.roles == {"admin", "operator"}
    psb = store.authenticate("psb-app", psb_secret)
    assert psb is not None and psb.department == "PSB" and psb.roles == {"provider"}
    assert store.authenticate("psb-app", admin_secret) is None


def test_credentials_commands_refuse_in_one_line(tmp_path: Path) -> None:
    path = str(tmp_path / "creds.yaml")
    assert credentials("init", "--file", path).exit_code == 0
    cases = [
        (("init",), "error CREDENTIALS_EXIST: "),
        (("add", "admin", "--role", "operator"), "error PRINCIPAL_EXISTS: "),
        (("add", "bad name", "--role", "operator"), "error CREDENTIALS_INVALID: "),
    ]
    for args, prefix in cases:
        refused = credentials(*args, "--file", path)
        assert refused.exit_code == 2, (args, refused.output)
        [line] = refused.stderr.strip().splitlines()
        assert line.startswith(prefix), (args, line)
    # A department the catalog does not know, through the real command line.
    unknown = govbus(
        tmp_path, "gateway", "credentials", "add", "x", "--role", "provider",
        "--department", "NOPE", "--file", path,
    )  # fmt: skip
    assert unknown.returncode == 2
    [line] = unknown.stderr.strip().splitlines()
    assert line.startswith("error UNKNOWN_DEPARTMENT: ")
    assert [p["name"] for p in yaml.safe_load(Path(path).read_text())["principals"]] == ["admin"]


def test_serve_refuses_a_malformed_file_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("principals: [{name: x}]\n")
    refused = govbus(tmp_path, "gateway", "serve", "--port", "1", "--credentials", str(bad))
    assert refused.returncode == 2
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith(f"error CREDENTIALS_INVALID: {bad}: invalid credentials"), line
