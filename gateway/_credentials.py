"""Which credentials file the gateway uses, and how an operator makes one.

Never a silent default outside a checkout: an installed gateway without
GOVBUS_GATEWAY_CREDENTIALS (or `--credentials`) refuses to start and says how to make the
file. In a checkout the development file (deploy/local) stays the default, with a warning.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Collection
from pathlib import Path

import structlog
import yaml
from pydantic import ValidationError

from govbus.gateway._auth import (
    CredentialEntry,
    CredentialsError,
    CredentialsFile,
    CredentialStore,
    Role,
    hash_secret,
)

DEV_CREDENTIALS = Path("deploy") / "local" / "gateway-credentials.yaml"
DEFAULT_FILE = Path("gateway-credentials.yaml")
_HEADER = (
    "# govbus gateway principals (GOVBUS_GATEWAY_CREDENTIALS): salted scrypt hashes only.\n"
    "# Add one with `govbus gateway credentials add NAME --role ROLE`.\n"
)

log = structlog.get_logger("gateway")


def credentials_file(configured: Path | None, checkout: Path | None) -> Path:
    """The file to load: the configured one, else (in a checkout only) the dev file."""
    if configured is not None:
        return configured
    if checkout is not None:
        path = checkout / DEV_CREDENTIALS
        log.warning(
            "gateway uses the development credentials; set GOVBUS_GATEWAY_CREDENTIALS "
            "outside local development",
            path=str(path),
        )
        return path
    raise CredentialsError(
        "no gateway credentials: set GOVBUS_GATEWAY_CREDENTIALS=PATH or pass --credentials "
        "PATH; make the file with `govbus gateway credentials init --file PATH`",
        code="CREDENTIALS_MISSING",
    )


def add_principal(path: Path, name: str, roles: Collection[Role], department: str | None) -> str:
    """Add a principal with a fresh random secret to `path` (created when missing).

    Returns the secret, which is stored only as its scrypt hash.
    """
    entries: tuple[CredentialEntry, ...] = ()
    if path.exists():
        CredentialStore.from_file(path)  # refuses a malformed file before touching it
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        entries = CredentialsFile.model_validate(raw).principals
    if any(e.name == name for e in entries):
        raise CredentialsError(f"{path}: principal {name!r} exists already", "PRINCIPAL_EXISTS")
    secret = secrets.token_urlsafe(24)  # no '.', so `<name>.<secret>` bearer tokens split
    try:
        entry = CredentialEntry(
            name=name,
            department=department,
            roles=frozenset(roles),
            secret_hash=hash_secret(secret),
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_input=False)
        )
        raise CredentialsError(f"invalid principal: {problems}") from exc
    _write(path, CredentialsFile(principals=(*entries, entry)))
    return secret


def _write(path: Path, content: CredentialsFile) -> None:
    body = yaml.safe_dump(
        {"principals": [_plain(e) for e in content.principals]}, sort_keys=False, allow_unicode=True
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    # Owner-only from the first byte: the hashes are not secrets, but they are not public.
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(_HEADER + body)
    partial.replace(path)


def _plain(entry: CredentialEntry) -> dict[str, object]:
    return {
        "name": entry.name,
        "department": entry.department,
        "roles": sorted(entry.roles),
        "secret_hash": entry.secret_hash,
    }
