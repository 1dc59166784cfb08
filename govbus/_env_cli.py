"""`govbus env`: the settings in force and where each came from; `set`/`unset` the record."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import SecretStr, ValidationError

from govbus._errors import ErrorCode, GovbusError
from govbus._local_env import (
    STATE_DIR_NAME,
    find_local_env,
    local_env_target,
    read_local_env,
    write_local_env,
)
from govbus._settings import SettingOrigin, Settings, env_name
from govbus._urls import HIDDEN, redact_url

env_app = typer.Typer(
    name="env",
    help="The settings in force, where each came from, and the local record .govbus/env.",
    invoke_without_command=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(env_app)


def shown_value(value: Any) -> tuple[str, bool]:
    """The value as it may be printed, and whether that is the whole of it."""
    if value is None:
        return "(unset)", True
    if isinstance(value, SecretStr):
        return f"{HIDDEN} (hidden)", False
    text = str(value)
    redacted = redact_url(text) if "://" in text or "password" in text.lower() else text
    return redacted, redacted == text


@env_app.callback()
def show(
    ctx: typer.Context,
    export: Annotated[
        bool, typer.Option("--export", help="Print `export GOVBUS_…=…` lines for a shell")
    ] = False,
    store: Annotated[
        str | None, typer.Option("--store", metavar="URL", help="As the commands' --store flag")
    ] = None,
    bootstrap_servers: Annotated[
        str | None, typer.Option(metavar="HOST:PORT", help="Kafka bootstrap servers, as a flag")
    ] = None,
) -> None:
    """Print each setting, its value (secrets hidden) and its origin: flag, env, local file
    or default. With --export, lines a shell can eval: `eval "$(govbus env --export)"`."""
    if ctx.invoked_subcommand is not None:
        return
    settings = Settings.from_flags(store_url=store, bootstrap_servers=bootstrap_servers)
    origins = settings.origins()
    record = find_local_env()
    if export:
        _print_export(settings, origins)
        return
    typer.echo(f"local file: {record if record is not None else '(none found)'}")
    rows = []
    for name in type(settings).model_fields:
        text, _whole = shown_value(getattr(settings, name))
        rows.append((env_name(name), text, str(origins[name])))
    width = max(len(r[0]) for r in rows)
    value_width = min(60, max(len(r[1]) for r in rows))
    for variable, text, origin in rows:
        typer.echo(f"{variable:<{width}}  {text:<{value_width}}  {origin}")


def _print_export(settings: Settings, origins: dict[str, SettingOrigin]) -> None:
    for name in type(settings).model_fields:
        if origins[name] is SettingOrigin.DEFAULT:
            continue
        value = getattr(settings, name)
        variable = env_name(name)
        _text, whole = shown_value(value)
        if value is None:
            continue
        if not whole:  # secrets are never printed in full, not even for a shell
            typer.echo(f"# {variable} is set ({origins[name]}): not printed, it holds a secret")
            continue
        typer.echo(f"export {variable}={shlex.quote(str(value))}")


def _field_for(assignment_name: str) -> str:
    field = assignment_name.strip().upper().removeprefix("GOVBUS_").lower()
    if field not in Settings.model_fields:
        known = ", ".join(env_name(n) for n in Settings.model_fields)
        raise GovbusError(
            ErrorCode.INVALID_SETTING,
            f"no setting {assignment_name.strip()!r}; the settings are: {known}",
        )
    return field


def _record_path() -> Path | None:
    found = find_local_env()
    return found if found is not None else local_env_target(Path.cwd() / STATE_DIR_NAME)


@env_app.command("set")
def set_values(
    assignments: Annotated[
        list[str], typer.Argument(metavar="NAME=VALUE...", help="e.g. GOVBUS_STORE_URL=sqlite:///x")
    ],
) -> None:
    """Record settings in the local file (the nearest .govbus/env, else ./.govbus/env)."""
    updates: dict[str, str | None] = {}
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep:
            raise GovbusError(ErrorCode.USAGE, f"{assignment!r} is not NAME=VALUE")
        field = _field_for(name)
        try:
            Settings.model_validate({field: value})
        except ValidationError as exc:
            problem = exc.errors(include_input=False)[0]["msg"]
            raise GovbusError(ErrorCode.INVALID_SETTING, f"{env_name(field)}: {problem}") from None
        updates[env_name(field)] = value
    _write(updates)


@env_app.command("unset")
def unset_values(
    names: Annotated[list[str], typer.Argument(metavar="NAME...", help="e.g. GOVBUS_STORE_URL")],
) -> None:
    """Remove settings from the local file."""
    _write({env_name(_field_for(name)): None for name in names})


def _write(updates: dict[str, str | None]) -> None:
    path = _record_path()
    if path is None:
        raise GovbusError(ErrorCode.INVALID_SETTING, "GOVBUS_ENV_FILE is set empty: no record")
    write_local_env(path, updates)
    now = read_local_env(path)
    for variable in updates:
        state = "recorded" if variable in now else "removed"
        typer.echo(f"{state} {variable} in {path}")
