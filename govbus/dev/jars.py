"""Fetch the Kafka broker's jars from Maven Central once, into a cache directory."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from govbus.dev import paths
from govbus.dev.processes import locked

# Written last, holding the pom's hash: a half-finished or outdated fetch is redone.
_MARKER = ".govbus-complete"


class FetchError(RuntimeError):
    """Maven could not provide the broker's jars."""


@dataclass(frozen=True)
class FetchedJars:
    directory: Path
    downloaded: bool

    @property
    def classpath(self) -> str:
        return str(self.directory / "*")


def fetch_jars(jars_dir: Path | None = None, pom: Path | None = None) -> FetchedJars:
    """Copy the pom's runtime dependencies into `jars_dir`; a no-op when already there."""
    target = jars_dir or paths.kafka_jars_dir()
    pom_path = pom or paths.deploy_dir() / "pom.xml"
    if not pom_path.is_file():
        raise FetchError(f"no pom at {pom_path} (set GOVBUS_DEPLOY_DIR to deploy/local)")
    digest = hashlib.sha256(pom_path.read_bytes()).hexdigest()
    if _is_complete(target, digest):
        return FetchedJars(target, downloaded=False)
    with locked(target.parent / f".{target.name}.lock"):
        if _is_complete(target, digest):
            return FetchedJars(target, downloaded=False)
        _download(pom_path, target)
        (target / _MARKER).write_text(digest + "\n")
    return FetchedJars(target, downloaded=True)


def java_available() -> bool:
    return shutil.which("java") is not None


def _is_complete(target: Path, digest: str) -> bool:
    marker = target / _MARKER
    return marker.is_file() and marker.read_text().strip() == digest


def _download(pom_path: Path, target: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise FetchError("`mvn` not found; run deploy/local/install-system-deps.sh")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Fetch beside the target and swap in whole, so readers never see half a classpath.
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        command = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom_path),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
            "-DincludeScope=runtime",
        ]
        result = subprocess.run(command, capture_output=True, text=True, env=_maven_env())
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()[-4000:]
            raise FetchError(f"maven failed ({result.returncode}):\n{output}")
        if not any(staging.glob("kafka_2.13-*.jar")):
            raise FetchError(f"maven finished but no kafka jar appeared in {staging}")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _maven_env() -> dict[str, str]:
    env = dict(os.environ)
    # Keep Maven's own JVM small; the machine is shared with brokers and tests.
    env.setdefault("MAVEN_OPTS", "-Xmx256m -XX:+UseSerialGC")
    return env
