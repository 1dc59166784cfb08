"""Whether this package runs from a source checkout (an editable install) or a wheel.

Development conveniences (the dev credentials, `.govbus/` state next to the repo) apply only
in a checkout; an installed package never looks above its own directory.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def checkout_root() -> Path | None:
    """The repository root when `govbus/` sits in a checkout, else None (an installed wheel)."""
    root = _PACKAGE_DIR.parent
    if (root / "pyproject.toml").is_file() and (root / "deploy" / "local").is_dir():
        return root
    return None
