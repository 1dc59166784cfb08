"""`govbus admin principals|tokens`: the gateway's principals, their tokens and SCRAM users.

The commands work on the gateway database (GOVBUS_GATEWAY_DB) through the same service as
the admin API. A secret (token, SCRAM password) is printed once, alone on stdout, so that a
script can capture it; everything else goes to stderr.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from govbus.gateway._settings import GatewaySettings

if TYPE_CHECKING:  # the CLI root loads every role's commands: keep fastapi out of its start
    from govbus.gateway.principals import PrincipalService

admin_app = typer.Typer(name="admin", help="Platform administration.", no_args_is_help=True)
principals_app = typer.Typer(
    name="principals", help="The gateway's principals (departments, services, operators, admins).",
    no_args_is_help=True,
)  # fmt: skip
tokens_app = typer.Typer(name="tokens", help="API tokens of the principals.", no_args_is_help=True)
admin_app.add_typer(principals_app)
admin_app.add_typer(tokens_app)
ACTOR = "admin-cli"
_DURATION = re.compile(r"^(\d+)([dhm])$")


class RoleName(StrEnum):
    ADMIN = "admin"
    PROVIDER = "provider"
    OPERATOR = "operator"
    SUBSCRIBER = "subscriber"


class KindName(StrEnum):
    DEPARTMENT = "department"
    SERVICE = "service"
    OPERATOR = "operator"
    ADMIN = "admin"


ExpiresOption = Annotated[
    str | None,
    typer.Option(
        "--expires", metavar="WHEN", help="30d, 12h, 90m, or a date/time such as 2027-01-31"
    ),
]


def parse_expiry(raw: str | None, now: datetime | None = None) -> datetime | None:
    """A duration from now, or an ISO date/time (UTC unless it says otherwise)."""
    if raw is None:
        return None
    now = now or datetime.now(UTC)
    if match := _DURATION.match(raw.strip()):
        amount, unit = int(match[1]), match[2]
        return now + timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[unit]: amount})
    try:
        when = datetime.fromisoformat(raw.strip())
    except ValueError:
        _refuse("INVALID_EXPIRY", f"--expires {raw[:40]!r}: use 30d, 12h, 90m or a date")
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _refuse(code: str, message: str) -> NoReturn:
    typer.echo(f"error {code}: {' '.join(message.split())}", err=True)
    raise typer.Exit(2)


@contextmanager
def _service() -> Iterator[PrincipalService]:
    """The service on the configured database; refusals become `error CODE: ...`."""
    from govbus.gateway._auth import CredentialsError
    from govbus.gateway._db import open_database
    from govbus.gateway._errors import ApiError
    from govbus.gateway.audit import AuditKeyError, open_audit_log
    from govbus.gateway.principals import (
        PrincipalStore,
        TokenKeyError,
        credentials_seed,
        principal_service,
    )

    settings = GatewaySettings()
    try:
        db = open_database(settings.gateway_db)
        # The gateway's chain, unmirrored: a serving gateway's mirror publishes the entries.
        audit = open_audit_log(settings.model_copy(update={"audit_mirror": False}), db)
        store = PrincipalStore(db)
        seed = credentials_seed(store, settings, required=False)
        service = principal_service(settings, audit, store)
        service.bootstrap(seed)
        try:
            yield service
        finally:
            audit.close()  # signs the head, so a cut of the CLI's entries is caught
    except AuditKeyError as exc:
        _refuse(exc.code, exc.message)
    except CredentialsError as exc:
        _refuse(exc.code, exc.message)
    except ApiError as exc:
        _refuse(str(exc.error_code), exc.message)
    except TokenKeyError as exc:
        _refuse(exc.code, exc.message)


def _stamp(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else "-"


@principals_app.command("create")
def principals_create(
    name: Annotated[str, typer.Argument(help="Principal name (letters, digits, '-', '_')")],
    role: Annotated[list[RoleName], typer.Option("--role", help="A role; repeat for more")],
    department: Annotated[
        str | None, typer.Option(help="Catalog department code, e.g. PSB")
    ] = None,
    kind: Annotated[
        KindName | None, typer.Option(help="Default: from roles and department")
    ] = None,
    kafka: Annotated[
        bool | None,
        typer.Option("--kafka/--no-kafka", help="A SCRAM user (default: departments, on SASL)"),
    ] = None,
) -> None:
    """Create a principal; a department on a secured broker also gets a SCRAM user."""
    from pydantic import ValidationError

    from govbus.gateway.principals import PrincipalRequest

    try:
        PrincipalRequest(name=name, roles=frozenset(r.value for r in role), department=department)
    except ValidationError as exc:
        where = ", ".join(str(e["loc"][0]) for e in exc.errors(include_input=False))
        _refuse("INVALID_PRINCIPAL", f"invalid {where} (names: letters, digits, '-', '_')")
    with _service() as service:
        made = service.create(
            ACTOR, name, [r.value for r in role], department, kind.value if kind else None, kafka
        )
    record = made.principal
    typer.echo(f"created {record.kind} {record.name} ({', '.join(sorted(record.roles))})", err=True)
    if made.kafka_password is not None:
        typer.echo(
            f"Kafka SCRAM user {record.kafka_user}; its password follows, shown this once", err=True
        )
        typer.echo(made.kafka_password)


@principals_app.command("list")
def principals_list() -> None:
    """One line per principal: name, kind, department, roles, Kafka user, state."""
    with _service() as service:
        records = service.principals()
    for p in records:
        state = "enabled" if p.enabled else f"disabled {_stamp(p.disabled_at)}"
        typer.echo(
            f"{p.name}\t{p.kind}\t{p.department or '-'}\t{','.join(sorted(p.roles))}\t"
            f"{p.kafka_user or '-'}\t{state}"
        )


@principals_app.command("disable")
def principals_disable(name: Annotated[str, typer.Argument(help="Principal name")]) -> None:
    """Refuse the principal's tokens and password from the next request; drop its SCRAM user."""
    with _service() as service:
        service.disable(ACTOR, name)
    typer.echo(f"disabled {name}", err=True)


@principals_app.command("remove")
def principals_remove(name: Annotated[str, typer.Argument(help="Principal name")]) -> None:
    """Remove the principal, its tokens and its SCRAM user."""
    with _service() as service:
        service.remove(ACTOR, name)
    typer.echo(f"removed {name}", err=True)


@principals_app.command("rotate-kafka-password")
def principals_rotate_kafka(name: Annotated[str, typer.Argument(help="Principal name")]) -> None:
    """A new SCRAM password for the principal's Kafka user (created if it had none)."""
    with _service() as service:
        password = service.rotate_kafka_password(ACTOR, name)
        user = service.kafka_user(name)
    typer.echo(f"Kafka SCRAM user {user}; its new password follows, shown this once", err=True)
    typer.echo(password)


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Argument(help="Principal name")], expires: ExpiresOption = None
) -> None:
    """A new API token for the principal, printed once (only its keyed hash is stored)."""
    when = parse_expiry(expires)
    with _service() as service:
        issued = service.create_token(ACTOR, name, when)
    typer.echo(
        f"token {issued.token_id} for {name}, expires {_stamp(issued.expires_at)}; "
        "it follows, shown this once",
        err=True,
    )
    typer.echo(issued.token)


@tokens_app.command("list")
def tokens_list(
    name: Annotated[str | None, typer.Argument(help="Principal name (default: all)")] = None,
) -> None:
    """One line per token: id, principal, created, expires, revoked."""
    with _service() as service:
        tokens = service.tokens(name)
    for t in tokens:
        typer.echo(
            f"{t.token_id}\t{t.principal}\tcreated {_stamp(t.created_at)}\t"
            f"expires {_stamp(t.expires_at)}\trevoked {_stamp(t.revoked_at)}"
        )


@tokens_app.command("rotate")
def tokens_rotate(
    token_id: Annotated[str, typer.Argument(help="Token id (from `tokens list`)")],
    expires: ExpiresOption = None,
) -> None:
    """Replace a token: the old one is refused from the next request, the new one printed."""
    when = parse_expiry(expires)
    with _service() as service:
        issued = service.rotate_token(ACTOR, token_id, when)
    typer.echo(f"token {token_id} revoked; new token {issued.token_id} follows", err=True)
    typer.echo(issued.token)


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[str, typer.Argument(help="Token id (from `tokens list`)")],
) -> None:
    """Refuse the token from the next request on."""
    with _service() as service:
        service.revoke_token(ACTOR, token_id)
    typer.echo(f"token {token_id} revoked", err=True)
