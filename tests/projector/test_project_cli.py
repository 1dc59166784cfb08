"""`govbus project`'s refusals: one line `error CODE: ...`, exit 2, before any broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.helpers import clean_environ, run_govbus

REGISTRY = {"GOVBUS_SCHEMA_REGISTRY_URL": "http://127.0.0.1:9"}  # never reached


@pytest.mark.parametrize(
    ("args", "env", "code"),
    [
        ((), REGISTRY, "USAGE"),
        (("--view", "BR-PERSON=name"), {}, "INVALID_SETTING"),  # no registry
        (("--view", "name,sex"), REGISTRY, "USAGE"),
        (("--view", "NO-SUCH=name"), REGISTRY, "UNKNOWN_RESOURCE"),
        (("--views", "/nonexistent/views.json"), REGISTRY, "INVALID_SETTING"),
    ],
)
def test_bad_input_is_one_error_line(
    args: tuple[str, ...], env: dict[str, str], code: str, tmp_path: Path
) -> None:
    ran = run_govbus("project", *args, env=clean_environ(GOVBUS_ENV_FILE="", **env))
    assert ran.code == 2, ran.stderr
    assert len(ran.error_lines) == 1 and ran.error_lines[0].startswith(f"error {code}: ")
    assert "Traceback" not in ran.stderr
