"""The `govbus` command line.

The core only owns the root (with `govbus env` and `--version`). Each role (producers,
consumers, gateway, dev tools) adds its commands through the `govbus.cli` entry-point group,
so the core never imports the packages downstream of it. Errors and exit codes are handled
once, in `govbus._cli_group`.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, entry_points, version
from typing import Annotated

import typer

from govbus._cli_group import GovbusGroup
from govbus._env_cli import register as register_env
from govbus._logging import configure_logging
from govbus._settings import Settings

EPILOG = """\b
Exit codes:
  0  everything was done
  1  partly done: some lines refused, some events not acknowledged or
     dead-lettered; for a query, the answer is no (not found, not valid)
  2  nothing was done: a usage, configuration or connection error, printed
     as one line `error CODE: message`

\b
Settings: a flag, else a GOVBUS_* variable, else the local record
.govbus/env (written by `govbus dev kafka up`), else the default.
`govbus env` shows each one and where it came from. See docs/cli.md."""

app = typer.Typer(
    name="govbus",
    cls=GovbusGroup,
    help="govbus: an event-driven data exchange bus for government departments.",
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # plain help: `--until-idle`, not `--until-idle <bool>`
    pretty_exceptions_show_locals=False,  # locals may hold personal data
)


def govbus_version() -> str:
    try:
        return version("govbus")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"govbus {govbus_version()}")
        raise typer.Exit(0)


@app.callback()
def root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", is_eager=True, callback=_print_version
        ),
    ] = False,
) -> None:
    """govbus: an event-driven data exchange bus for government departments."""
    # Every command's logs (librdkafka's included) go through structlog, on stderr.
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)


_registered = False


def _register_plugins(root_app: typer.Typer) -> None:
    for entry in sorted(entry_points(group="govbus.cli"), key=lambda e: e.name):
        # One broken role must not take the others down (e.g. `govbus dev` while a
        # package is half-written); say which group is missing and why.
        try:
            register = entry.load()
            register(root_app)
        except Exception as error:
            print(
                f"govbus: command group {entry.name!r} ({entry.value}) is unavailable: "
                f"{type(error).__name__}: {error}",
                file=sys.stderr,
            )


def _merge_groups(parent: typer.Typer) -> None:
    """Groups of one name from several roles (`govbus admin ...`) become one, at any depth."""
    by_name: dict[str, typer.Typer] = {}
    kept = []
    for group in parent.registered_groups:
        instance = group.typer_instance
        name = group.name or (instance.info.name if instance else None)
        first = by_name.get(name) if isinstance(name, str) else None
        if first is None or instance is None:
            if isinstance(name, str) and instance is not None:
                by_name[name] = instance
            kept.append(group)
            continue
        first.registered_commands.extend(instance.registered_commands)
        first.registered_groups.extend(instance.registered_groups)
    parent.registered_groups[:] = kept
    for instance in by_name.values():
        _merge_groups(instance)


def cli_app() -> typer.Typer:
    """The root app with every role's commands (registered once): for `main` and tests."""
    global _registered
    if not _registered:
        _registered = True
        register_env(app)
        _register_plugins(app)
        _merge_groups(app)
    return app


def main() -> None:
    cli_app()()
