"""The signing key: configured, generated in a checkout, refused when an installed gateway has
none; and the timer that signs the head every M seconds."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from govbus.gateway._audit_cli import audit_app
from govbus.gateway.audit import AuditKeyError, load_public_key
from govbus.gateway.audit._signing import signing_key_path
from tests.gateway.audit_helpers import access, key_file, make_log


def test_a_configured_key_is_used_as_is(tmp_path: Path) -> None:
    configured = tmp_path / "mine.pem"
    assert signing_key_path(configured, tmp_path, tmp_path / "state") == configured
    assert not (tmp_path / "state").exists()


def test_in_a_checkout_an_unset_key_is_generated_once_for_the_owner_only(tmp_path: Path) -> None:
    path = signing_key_path(None, tmp_path, tmp_path / "state")
    assert path == tmp_path / "state" / "audit-signing-key.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = path.read_bytes()
    assert signing_key_path(None, tmp_path, tmp_path / "state") == path
    assert path.read_bytes() == first


def test_an_installed_gateway_without_a_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AuditKeyError) as refused:
        signing_key_path(None, None, tmp_path)
    assert refused.value.code == "AUDIT_KEY_MISSING"
    assert "GOVBUS_AUDIT_SIGNING_KEY" in refused.value.message


def test_keygen_writes_a_key_and_prints_its_public_half_and_never_overwrites(
    tmp_path: Path,
) -> None:
    path = tmp_path / "k.pem"
    made = CliRunner().invoke(audit_app, ["keygen", str(path)])
    assert made.exit_code == 0 and "BEGIN PUBLIC KEY" in made.stdout
    public = tmp_path / "k.pub"
    public.write_text(made.stdout[made.stdout.index("-----BEGIN") :])
    assert load_public_key(public) == load_public_key(path)
    again = CliRunner().invoke(audit_app, ["keygen", str(path)])
    assert again.exit_code == 2 and "error AUDIT_KEY_EXISTS:" in again.output


def test_verify_without_a_key_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        audit_app, ["verify", "--db", f"sqlite:///{tmp_path / 'g.db'}", "--public-key", "nope"]
    )
    assert result.exit_code == 2
    assert result.output.strip() == "error AUDIT_KEY_MISSING: nope: cannot read the key"


def test_the_timer_signs_the_head_every_m_seconds(tmp_path: Path) -> None:
    log = make_log(f"sqlite:///{tmp_path / 'g.db'}", key_file(tmp_path), every=1000)
    log.checkpoint_seconds = 0.1
    log.start()
    try:
        for i in range(3):
            log.append(access(i))
        deadline = time.monotonic() + 10
        while not log.store.all_checkpoints() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [c.seq for c in log.store.all_checkpoints()] == [3]
        log.append(access(3))
        while len(log.store.all_checkpoints()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [c.seq for c in log.store.all_checkpoints()] == [3, 4]
        time.sleep(0.3)  # no new entry: no new checkpoint
        assert len(log.store.all_checkpoints()) == 2
    finally:
        log.close()
