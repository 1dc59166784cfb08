"""The `govbus` command line.

The core only owns the root. Each role (producers, consumers, gateway, dev tools)
adds its commands through the `govbus.cli` entry-point group, so the core never
imports the packages downstream of it.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

import typer

from govbus._errors import GovbusError

app = typer.Typer(name="govbus", no_args_is_help=True, add_completion=False)


def _register_plugins(root: typer.Typer) -> None:
    for entry in sorted(entry_points(group="govbus.cli"), key=lambda e: e.name):
        # One broken role must not take the others down (e.g. `govbus dev` while a
        # package is half-written); say which group is missing and why.
        try:
            register = entry.load()
            register(root)
        except Exception as error:
            print(
                f"govbus: command group {entry.name!r} ({entry.value}) is unavailable: "
                f"{type(error).__name__}: {error}",
                file=sys.stderr,
            )


def main() -> None:
    _register_plugins(app)
    try:
        app()
    except GovbusError as exc:  # a refusal, not a crash: its code and message, no traceback
        typer.echo(f"error {exc.code}: {exc.message}", err=True)
        raise SystemExit(2) from None
