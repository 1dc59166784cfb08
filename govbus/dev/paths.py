"""Where the launchers keep their files. Each location has an environment override."""

from __future__ import annotations

import os
from pathlib import Path

KAFKA_VERSION = "4.4.0"

_REPO_ROOT = Path(__file__).resolve().parents[2]


def deploy_dir() -> Path:
    """The directory holding `pom.xml` and `log4j2.properties` for the local broker."""
    override = os.environ.get("GOVBUS_DEPLOY_DIR")
    return Path(override) if override else _REPO_ROOT / "deploy" / "local"


def state_root() -> Path:
    """Root of all launcher state (configs, data, pids, logs); `.govbus/` in the repo."""
    override = os.environ.get("GOVBUS_STATE_DIR")
    return Path(override) if override else _REPO_ROOT / ".govbus"


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
