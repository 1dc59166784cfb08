"""The root command: one place turns errors into `error CODE: message` and an exit code,
and help is shown the usual way (`--until-idle`, `--store URL`, `ENTITY KEY`).

Exit codes: 0 everything was done; 1 partly done (the command says what was not);
2 nothing was done (usage, configuration or connection error).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import typer
from pydantic import ValidationError
from typer._click.exceptions import NoArgsIsHelpError, UsageError  # typer vendors click
from typer.core import TyperArgument, TyperGroup, TyperOption

from govbus._errors import ErrorCode, GovbusError
from govbus._settings import env_name

EXIT_DONE, EXIT_PARTLY, EXIT_NOTHING = 0, 1, 2

_TYPE_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "Path": "PATH", "bool": "BOOLEAN"}


def error_line(code: str, message: str) -> str:
    """The one line a refused command prints (on stderr)."""
    return f"error {code}: {' '.join(message.split())}"


def settings_problems(exc: ValidationError) -> str:
    """`GOVBUS_X: input should be …` per bad setting; values are not shown (secrets)."""
    problems = [
        f"{env_name(str(err['loc'][0])) if err['loc'] else 'settings'}: {err['msg']}"
        for err in exc.errors(include_input=False, include_url=False)
    ]
    return "; ".join(problems) + " (see `govbus env`)"


def _plain_type(label: str) -> str:
    """typer's `<str>`, `<a|b>` as click shows them: `TEXT`, `[a|b]`."""
    bare = label.strip("<>")
    if "|" in bare:
        return f"[{bare}]"
    return _TYPE_NAMES.get(bare, bare.upper())


class PlainOption(TyperOption):
    def display_type_rich(self, ctx: Any) -> str | None:
        if self.metavar is not None:
            return self.metavar
        return _plain_type(self.display_type(ctx))


class PlainArgument(TyperArgument):
    def get_usage_pieces(self, ctx: Any) -> list[str]:
        name = self.display_name_raw + ("..." if self.nargs != 1 else "")
        return [name if self.required else f"[{name}]"]

    def display_type_rich(self, ctx: Any) -> str | None:
        label = self.display_type(ctx).strip("<>")
        return f"{{{label}}}" if "|" in label else None


def plain_help(command: Any) -> None:
    """Arguments in capitals, click-style value types, for the command and its subcommands."""
    for param in getattr(command, "params", []):
        if type(param) is TyperOption:
            param.__class__ = PlainOption
        elif type(param) is TyperArgument:
            param.__class__ = PlainArgument
            if param.metavar is None and param.name:
                param.metavar = param.name.upper()
    for sub in getattr(command, "commands", {}).values():
        plain_help(sub)


def run_command(invoke: Callable[[], Any]) -> int:
    """Run a parsed-and-invoked command tree; expected errors become one line and a code."""
    try:
        result = invoke()
    except NoArgsIsHelpError as exc:
        typer.echo(exc.ctx.get_help(), err=True)
        return EXIT_NOTHING
    except UsageError as exc:
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
        typer.echo(error_line(ErrorCode.USAGE, exc.format_message() + hint), err=True)
        return EXIT_NOTHING
    except GovbusError as exc:  # a refusal, not a crash: its code and message, no traceback
        typer.echo(error_line(exc.code, exc.message), err=True)
        return EXIT_NOTHING
    except ValidationError as exc:
        if not exc.title.endswith("Settings"):
            raise  # a model inside a command: a bug, with its traceback
        typer.echo(error_line(ErrorCode.INVALID_SETTING, settings_problems(exc)), err=True)
        return EXIT_NOTHING
    except typer.TyperException as exc:  # click's other errors, e.g. an unreadable file
        typer.echo(error_line(ErrorCode.USAGE, exc.format_message()), err=True)
        return EXIT_NOTHING
    except typer.Abort:
        typer.echo(error_line("ABORTED", "aborted"), err=True)
        return EXIT_NOTHING
    return result if isinstance(result, int) else EXIT_DONE


class GovbusGroup(TyperGroup):
    """The `govbus` group: plain help, and the error and exit-code convention above."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        plain_help(self)
        code = run_command(
            lambda: super(GovbusGroup, self).main(
                args,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        )
        if standalone_mode:
            sys.exit(code)
        return code
