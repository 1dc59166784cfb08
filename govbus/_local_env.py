"""The local environment record, `.govbus/env`: where the local broker and store are.

`govbus dev kafka up`, the demo and `govbus env set` write it; every `Settings()` reads it
below flags and `GOVBUS_*` variables, so commands typed later find the local setup. It is
found from the current directory upward, like git finds `.git`. `GOVBUS_ENV_FILE` names
another file (empty: none), which is how tests keep a developer's record out.

The format is `GOVBUS_NAME=value`, one a line, values shell-quoted: a shell can source it.
"""

from __future__ import annotations

import os
import shlex
import tempfile
from collections.abc import Mapping
from pathlib import Path

from govbus._errors import ErrorCode, GovbusError

ENV_FILE_VARIABLE = "GOVBUS_ENV_FILE"
STATE_DIR_NAME = ".govbus"
ENV_FILE_NAME = "env"
_HEADER = "# The local govbus environment (`govbus env` shows what is in force). Shell syntax.\n"


def env_file_override() -> tuple[bool, Path | None]:
    """`GOVBUS_ENV_FILE`: whether it is set, and its path (None when set empty: no file)."""
    value = os.environ.get(ENV_FILE_VARIABLE)
    if value is None:
        return False, None
    return True, Path(value) if value.strip() else None


def find_local_env(start: Path | None = None) -> Path | None:
    """The record in force: `GOVBUS_ENV_FILE`, else the nearest `.govbus/env` upward."""
    overridden, path = env_file_override()
    if overridden:
        return path if path is not None and path.is_file() else None
    try:
        here = (start or Path.cwd()).resolve()
    except OSError:  # the current directory was deleted
        return None
    for directory in (here, *here.parents):
        candidate = directory / STATE_DIR_NAME / ENV_FILE_NAME
        if candidate.is_file():
            return candidate
    return None


def read_local_env(path: Path) -> dict[str, str]:
    """The `GOVBUS_*` assignments of a record; other lines are ignored."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, raw = line.removeprefix("export ").partition("=")
        name = name.strip()
        if not sep or not name.startswith("GOVBUS_"):
            continue
        try:
            parts = shlex.split(raw, comments=True)
        except ValueError:  # an unbalanced quote: take the text as written
            parts = [raw.strip()]
        values[name] = " ".join(parts)
    return values


def write_local_env(path: Path, updates: Mapping[str, str | None]) -> None:
    """Set (or, for None, remove) names in the record at `path`, atomically, mode 0600."""
    if path.exists() and not path.is_file():
        return  # e.g. GOVBUS_ENV_FILE=/dev/null: nothing to record, and never replace it
    values = read_local_env(path)
    for name, value in updates.items():
        if value is None:
            values.pop(name, None)
        else:
            values[name] = value
    body = _HEADER + "".join(f"{n}={shlex.quote(v)}\n" for n, v in sorted(values.items()))
    temporary: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".env.", dir=path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(body)
        os.chmod(temporary, 0o600)  # it may hold a development password
        os.replace(temporary, path)
    except OSError as exc:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        raise GovbusError(
            ErrorCode.INVALID_SETTING, f"cannot write the local environment {path}: {exc}"
        ) from None


def local_env_target(state_dir: Path) -> Path | None:
    """Where to record: `GOVBUS_ENV_FILE` if set (None if set empty), else `<state_dir>/env`."""
    overridden, path = env_file_override()
    return path if overridden else state_dir / ENV_FILE_NAME
