"""`govbus gateway`: serve the gateway, and hash secrets for its credentials file."""

from __future__ import annotations

from typing import Annotated

import typer

from govbus.gateway._settings import GatewaySettings

gateway_app = typer.Typer(name="gateway", help="The HTTP gateway and schema registry.")


@gateway_app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8081)")] = None,
) -> None:
    """Serve the gateway (schema registry included) with uvicorn."""
    import uvicorn

    from govbus import configure_logging
    from govbus.gateway._app import create_app

    settings = GatewaySettings()
    configure_logging(settings.log_level, settings.log_format)
    uvicorn.run(
        create_app(settings),
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


def register(app: typer.Typer) -> None:
    app.add_typer(gateway_app)
