"""The `govbus` command line.

The core only owns the root. Each role (producers, consumers, gateway, dev tools)
adds its commands through the `govbus.cli` entry-point group, so the core never
imports the packages downstream of it.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import typer

app = typer.Typer(name="govbus", no_args_is_help=True, add_completion=False)


def _register_plugins(root: typer.Typer) -> None:
    for entry in sorted(entry_points(group="govbus.cli"), key=lambda e: e.name):
        register = entry.load()
        register(root)


def main() -> None:
    _register_plugins(app)
    app()
