"""Where the launchers keep their files. Each location has an environment override."""

from __future__ import annotations

import os
from pathlib import Path

from govbus import checkout_root

KAFKA_VERSION = "4.4.0"

# In a wheel, deploy/local's pom.xml and log4j2.properties ship here (pyproject's
# force-include); in a checkout they are read from deploy/local itself.
_PACKAGED_DEPLOY = Path(__file__).resolve().parent / "local"


def deploy_dir() -> Path:
    """The directory holding `pom.xml` and `log4j2.properties` for the local broker."""
    override = os.environ.get("GOVBUS_DEPLOY_DIR")
    if override:
        return Path(override)
    root = checkout_root()
    return root / "deploy" / "local" if root else _PACKAGED_DEPLOY


def state_root() -> Path:
    """Root of all launcher state (configs, data, pids, logs).

    `.govbus/` in the repo for a checkout; for an installed package, `.govbus/` in the
    current directory (never inside site-packages).
    """
    override = os.environ.get("GOVBUS_STATE_DIR")
    if override:
        return Path(override)
    root = checkout_root()
    return (root or Path.cwd()) / ".govbus"


def kafka_jars_dir() -> Path:
    """Cache for the broker's jars, shared by every checkout of the repo."""
    override = os.environ.get("GOVBUS_KAFKA_JARS_DIR")
    if override:
        return Path(override)
    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache_home) / "govbus" / f"kafka-{KAFKA_VERSION}" / "libs"


def kafka_cluster_dir(name: str) -> Path:
    return state_root() / "kafka" / _checked_name(name)


def postgres_server_dir(name: str) -> Path:
    return state_root() / "postgres" / _checked_name(name)


def _checked_name(name: str) -> str:
    # Names become directory names; refuse anything that could escape the state root.
    if not name or not all(c.isalnum() or c in "-_." for c in name) or name.startswith("."):
        raise ValueError(f"invalid name {name!r}: use letters, digits, '-', '_' or '.'")
    return name
