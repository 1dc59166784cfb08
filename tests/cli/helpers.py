"""Drive the real `govbus` command: in-process (CliRunner) or as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from govbus.cli import cli_app


@dataclass(frozen=True)
class Ran:
    code: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def clean_environ(**extra: str) -> dict[str, str]:
    """The test process's environment without GOVBUS_* settings (a developer's exports)."""
    keep = {"GOVBUS_ENV_FILE", "GOVBUS_STATE_DIR", "GOVBUS_KAFKA_JARS_DIR"}
    base = {k: v for k, v in os.environ.items() if not k.startswith("GOVBUS_") or k in keep}
    return base | extra


def run_govbus(
    *args: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
) -> Ran:
    """`govbus ARGS` in a fresh process: what a user's shell would see, fd 2 included."""
    result = subprocess.run(
        [sys.executable, "-c", "from govbus.cli import main; main()", *args],
        env=dict(env) if env is not None else clean_environ(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Ran(result.returncode, result.stdout, result.stderr)


def invoke_govbus(*args: str, env: Mapping[str, str | None] | None = None) -> Ran:
    """The root app in-process, stdout and stderr apart; unexpected exceptions re-raised."""
    result = CliRunner().invoke(cli_app(), list(args), env=dict(env or {}))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)
