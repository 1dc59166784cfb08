"""govbus as a user gets it: the wheel, installed into a fresh venv outside the checkout,
run from a directory outside the repo.

The wheel installs one top-level package, `govbus`, with the schemas and the local broker's
pom inside it; nothing is found through the repo. Dependencies come from an offline
wheelhouse packed from this environment (`wheelhouse.py`), so no network is needed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest

from govbus import checkout_root
from govbus.consumers.testing import citizen_id
from govbus.dev.jars import fetch_jars
from govbus.dev.paths import kafka_jars_dir
from govbus.testing import KafkaEndpoint

from .wheelhouse import closure, repack, wheel_requirements

REPO = checkout_root()
DEV_PYTHON = sys.executable
JARS_ENV = {"GOVBUS_KAFKA_JARS_DIR": str(kafka_jars_dir())}


@dataclass(frozen=True)
class InstalledVenv:
    root: Path
    workdir: Path
    """A directory outside the repo to run commands from."""

    @property
    def python(self) -> str:
        return str(self.root / "bin" / "python")

    def run(
        self, *args: str, env: dict[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.root / "bin" / args[0]), *args[1:]],
            cwd=self.workdir,
            env={**clean_env(), **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check:
            assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
        return result


def clean_env() -> dict[str, str]:
    """The caller's environment without anything that points back into the checkout."""
    dropped = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "GOVBUS_", "PYTEST_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    return {**env, "COLUMNS": "300", "GOVBUS_LOG_FORMAT": "json"}


def run_checked(*command: str, cwd: Path | None = None) -> None:
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, f"{command}: {result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert REPO is not None, "the tests run from a checkout"
    dist = tmp_path_factory.mktemp("dist")
    run_checked(
        DEV_PYTHON, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
        "-w", str(dist), str(REPO),
    )  # fmt: skip
    [built] = dist.glob("govbus-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InstalledVenv]:
    base = tmp_path_factory.mktemp("installed")
    assert REPO is not None and not base.resolve().is_relative_to(REPO)
    house = base / "wheelhouse"
    house.mkdir()
    wanted = closure(wheel_requirements(wheel))
    native = [d for d in (_installed("govbus-native"),) if d is not None]
    for dist in (*wanted, *native):
        repack(dist, house)
    root = base / "venv"
    run_checked(DEV_PYTHON, "-m", "venv", "--without-pip", str(root))
    run_checked(
        DEV_PYTHON, "-m", "pip", "--python", str(root / "bin" / "python"), "install", "-q",
        "--no-index", "--find-links", str(house), str(wheel), *(d.metadata["Name"] for d in native),
    )  # fmt: skip
    workdir = base / "work"
    workdir.mkdir()
    yield InstalledVenv(root, workdir)


def _installed(name: str) -> metadata.Distribution | None:
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None


def test_the_wheel_installs_only_govbus_with_its_schemas_and_pom(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    top = {n.split("/", 1)[0] for n in names}
    assert top == {"govbus", "govbus-0.1.0.dist-info"}
    for generic in ("producers", "consumers", "gateway", "schemas", "deploy"):
        assert not any(n.startswith(f"{generic}/") for n in names), generic
    for shipped in (
        "govbus/schemas/catalog.yaml",
        "govbus/schemas/avro/person_changed/v1.avsc",
        "govbus/producers/__init__.py",
        "govbus/consumers/__init__.py",
        "govbus/gateway/__init__.py",
        "govbus/dev/local/pom.xml",
        "govbus/dev/local/log4j2.properties",
    ):
        assert shipped in names, shipped
    # The development credentials stay in the checkout.
    assert not any("credentials" in n for n in names if n.endswith(".yaml"))


def test_installed_govbus_reads_its_own_schemas_outside_the_checkout(
    installed: InstalledVenv,
) -> None:
    checked = installed.run("govbus", "schemas", "check")
    assert re.match(r"schemas check: \d+ versions compatible \(certificate_changed", checked.stdout)
    probe = installed.run(
        "python",
        "-c",
        "import json, govbus; from govbus.dev import paths;"
        "print(json.dumps({'file': govbus.__file__, 'schemas': str(govbus.get_settings()"
        ".schemas_dir), 'checkout': str(govbus.checkout_root()), 'state': str(paths."
        "state_root()), 'deploy': str(paths.deploy_dir())}))",
    )
    where = json.loads(probe.stdout)
    site = installed.root / "lib"
    assert Path(where["file"]).is_relative_to(site)
    assert Path(where["schemas"]).is_relative_to(site)
    assert where["checkout"] == "None"
    assert where["state"] == str(installed.workdir / ".govbus")
    assert (Path(where["deploy"]) / "pom.xml").is_file()
    # GOVBUS_SCHEMAS_DIR still overrides the packaged schemas.
    assert REPO is not None
    missing = installed.run(
        "govbus",
        "schemas",
        "check",
        env={"GOVBUS_SCHEMAS_DIR": str(installed.workdir / "nowhere")},
        check=False,
    )
    assert missing.returncode != 0
    assert "nowhere" in missing.stdout + missing.stderr


def test_the_installed_gateway_refuses_to_start_without_its_secrets(
    installed: InstalledVenv,
) -> None:
    # Outside a checkout nothing secret is made up: the audit key first, then credentials.
    refused = installed.run("govbus", "gateway", "serve", "--port", "1", check=False)
    assert refused.returncode == 2
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("error AUDIT_KEY_MISSING: ") and "govbus audit keygen" in line

    installed.run("govbus", "audit", "keygen", "audit.pem")
    keyed = {"GOVBUS_AUDIT_SIGNING_KEY": str(installed.workdir / "audit.pem")}
    refused = installed.run("govbus", "gateway", "serve", "--port", "1", env=keyed, check=False)
    assert refused.returncode == 2
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("error CREDENTIALS_MISSING: ")
    assert "govbus gateway credentials init" in line

    made = installed.run("govbus", "gateway", "credentials", "init", "--file", "creds.yaml")
    secret = made.stdout.strip()
    assert secret and secret not in (installed.workdir / "creds.yaml").read_text()
    check = installed.run(
        "python",
        "-c",
        "import sys; from pathlib import Path;"
        "from govbus.gateway._auth import CredentialStore;"
        "p = CredentialStore.from_file(Path('creds.yaml')).authenticate('admin', sys.argv[1]);"
        "print(sorted(p.roles))",
        secret,
    )
    assert check.stdout.strip() == "['admin', 'operator']"


@pytest.mark.kafka
def test_publish_then_sync_round_trip_from_the_installed_wheel(
    installed: InstalledVenv, kafka: KafkaEndpoint
) -> None:
    kafka_env = {"GOVBUS_BOOTSTRAP_SERVERS": kafka.bootstrap_servers}
    assert not kafka.security, "the round trip runs on the plain test broker"
    installed.run("govbus", "admin", "topics", "ensure", env=kafka_env)
    key = citizen_id(uuid.uuid4().int % 300_000)
    # The README's way in, from the installed package.
    published = installed.run(
        "python",
        "-c",
        "import sys\n"
        "from govbus import PersonChanged, PersonData\n"
        "from govbus.producers import Publisher\n"
        "with Publisher('PSB') as psb:\n"
        "    receipt = psb.publish(PersonChanged.upsert(department='PSB', key=sys.argv[1],"
        " sequence=1, data=PersonData(name='安装者', sex='2')))\n"
        "    print(receipt.result(timeout=30).offset)\n",
        key,
        env=kafka_env,
    )
    assert int(published.stdout.strip()) >= 0
    store = f"sqlite:///{installed.workdir / 'base.db'}"
    installed.run(
        "govbus", "sync", "--store", store, "--until-idle", "--max-idle-seconds", "2",
        "--group", f"wheel-{uuid.uuid4().hex[:8]}", env=kafka_env,
    )  # fmt: skip
    shown = installed.run("govbus", "store", "get", "person", key, "--store", store)
    assert "安*" in shown.stdout and "PSB" in shown.stdout and key not in shown.stdout
    exact = installed.run("govbus", "store", "get", "person", key, "--store", store, "--unmasked")
    assert "安装者" in exact.stdout and key in exact.stdout


def test_the_installed_launcher_finds_its_packaged_pom(installed: InstalledVenv) -> None:
    # The jars the test broker runs on were fetched with the checkout's pom; the packaged
    # pom is the same file, so the installed launcher finds them complete (no download).
    fetch_jars()  # what `make setup` did already
    fetched = installed.run("govbus", "dev", "kafka", "fetch", env=JARS_ENV)
    assert "already present" in fetched.stdout + fetched.stderr
