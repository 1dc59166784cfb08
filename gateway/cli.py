"""`govbus gateway`: serve the gateway, and make the principals of its credentials file."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from govbus.gateway._audit_cli import audit_app
from govbus.gateway._settings import GatewaySettings
from govbus.gateway.acls_cli import acls_app
from govbus.gateway.views_cli import views_app

if TYPE_CHECKING:  # the CLI root loads every role's commands: keep fastapi out of its start
    from govbus.gateway._auth import CredentialsError
    from govbus.gateway.audit import AuditKeyError
    from govbus.gateway.principals import TokenKeyError

gateway_app = typer.Typer(name="gateway", help="The HTTP gateway and schema registry.")
credentials_app = typer.Typer(
    name="credentials",
    help="The gateway's principals (salted scrypt hashes).",
    no_args_is_help=True,
)
gateway_app.add_typer(credentials_app)


class RoleName(StrEnum):
    ADMIN = "admin"
    PROVIDER = "provider"
    OPERATOR = "operator"
    SUBSCRIBER = "subscriber"


FileOption = Annotated[
    Path | None,
    typer.Option(
        "--file",
        help="Credentials file (GOVBUS_GATEWAY_CREDENTIALS, else ./gateway-credentials.yaml)",
    ),
]


def _refuse(exc: CredentialsError | AuditKeyError | TokenKeyError) -> NoReturn:
    typer.echo(f"error {exc.code}: {exc.message}", err=True)
    raise typer.Exit(2)


@gateway_app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8081)")] = None,
    credentials: Annotated[
        Path | None, typer.Option(help="Credentials file (GOVBUS_GATEWAY_CREDENTIALS)")
    ] = None,
) -> None:
    """Serve the gateway (schema registry included) with uvicorn."""
    import uvicorn

    from govbus import configure_logging
    from govbus.gateway._app import create_app
    from govbus.gateway._auth import CredentialsError
    from govbus.gateway.principals import TokenKeyError

    settings = GatewaySettings()
    if credentials is not None:
        settings = settings.model_copy(update={"gateway_credentials": credentials})
    configure_logging(settings.log_level, settings.log_format)
    from govbus.gateway.audit import AuditKeyError

    try:
        app = create_app(settings)
    except (CredentialsError, AuditKeyError, TokenKeyError) as exc:
        _refuse(exc)
    uvicorn.run(
        app,
        host=host or settings.gateway_host,
        port=port or settings.gateway_port,
        log_level=settings.log_level.lower(),
    )


@gateway_app.command("hash-secret")
def hash_secret_command() -> None:
    """Read a secret (not echoed) and print its salted hash for the credentials file."""
    from govbus.gateway._auth import hash_secret

    secret = typer.prompt("secret", hide_input=True, confirmation_prompt=True)
    typer.echo(hash_secret(secret))


def _target(file: Path | None) -> Path:
    from govbus.gateway._credentials import DEFAULT_FILE

    return file or GatewaySettings().gateway_credentials or DEFAULT_FILE


def _add(path: Path, name: str, roles: list[RoleName], department: str | None) -> None:
    from govbus import load_contract
    from govbus.gateway._auth import CredentialsError
    from govbus.gateway._credentials import add_principal

    if department is not None:  # a typo would make a principal that can never publish
        load_contract(GatewaySettings()).catalog.department(department)
    try:
        secret = add_principal(path, name, [r.value for r in roles], department)
    except CredentialsError as exc:
        _refuse(exc)
    # Only the secret on stdout, so a script can capture it; it is not stored anywhere.
    typer.echo(f"{path}: added {name}; its secret follows, shown this once", err=True)
    typer.echo(secret)


@credentials_app.command("init")
def credentials_init(
    file: FileOption = None,
    name: Annotated[str, typer.Option(help="The first principal")] = "admin",
) -> None:
    """Create a credentials file with one admin and operator principal."""
    from govbus.gateway._auth import CredentialsError

    path = _target(file)
    if path.exists():
        _refuse(CredentialsError(f"{path} exists already; add to it instead", "CREDENTIALS_EXIST"))
    _add(path, name, [RoleName.ADMIN, RoleName.OPERATOR], None)


@credentials_app.command("add")
def credentials_add(
    name: Annotated[str, typer.Argument(help="Principal name (letters, digits, '-', '_')")],
    role: Annotated[list[RoleName], typer.Option("--role", help="A role; repeat for more")],
    department: Annotated[
        str | None, typer.Option(help="Department code, e.g. PSB (departments, subscribers)")
    ] = None,
    file: FileOption = None,
) -> None:
    """Add a principal with a fresh random secret (the file is created when missing)."""
    _add(_target(file), name, role, department)


def register(app: typer.Typer) -> None:
    from govbus.gateway.admin_cli import admin_app

    app.add_typer(gateway_app)
    app.add_typer(audit_app)
    admin_app.add_typer(acls_app)
    admin_app.add_typer(views_app)
    app.add_typer(admin_app)  # merged with the other roles' `admin` commands by the root
