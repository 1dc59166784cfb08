"""A throwaway PostgreSQL server on loopback, from the distribution's binaries.

initdb and pg_ctl refuse to run as root, so under root the server runs as the
unprivileged `postgres` user (created by Debian's postgresql package) and its
directories are handed to that user.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govbus.dev import paths
from govbus.dev.processes import free_ports, is_running, locked, log_tail, stop_pids

HOST = "127.0.0.1"
SUPERUSER = "postgres"


class PostgresLaunchError(RuntimeError):
    """The server could not be initialised, started or stopped; the message says why."""


@dataclass(frozen=True)
class PostgresServer:
    name: str
    directory: Path
    data_dir: Path
    port: int
    bin_dir: Path

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{database}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / "postgres.log"

    def pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None

    def is_running(self) -> bool:
        pid = self.pid()
        return pid is not None and is_running(pid, str(self.data_dir))


def find_bin_dir() -> Path | None:
    """Newest /usr/lib/postgresql/*/bin with a server, or pg_ctl on PATH; GOVBUS_PG_BIN wins."""
    override = os.environ.get("GOVBUS_PG_BIN")
    if override:
        return Path(override)
    candidates = glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")
    candidates.sort(key=lambda path: int(Path(path).parent.parent.name.split(".")[0]))
    if candidates:
        return Path(candidates[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


def start_postgres(name: str = "local", port: int | None = None) -> PostgresServer:
    """Start the named server, or return it if it already runs."""
    directory = paths.postgres_server_dir(name)
    with locked(directory.parent / f".{name}.lock", remove=True):
        server = load_postgres(name)
        if server is not None and server.is_running():
            return server
        if server is None:
            server = _initialise(name, directory, port)
        _pg_ctl(
            server, "start", "-w", "-t", "60", "-l", str(server.log_path), "-o", _options(server)
        )
        if not server.is_running():
            raise PostgresLaunchError(
                f"postgres {name!r} did not start; log:\n{log_tail(server.log_path)}"
            )
        return server


def stop_postgres(name: str = "local") -> bool:
    """Stop the server (fast shutdown, then signals) and delete its files."""
    directory = paths.postgres_server_dir(name)
    with locked(directory.parent / f".{name}.lock", remove=True):
        server = load_postgres(name)
        if server is None:
            if directory.exists():
                shutil.rmtree(directory)
                return True
            return False
        pid = server.pid()
        if server.is_running():
            # A failed pg_ctl stop falls through to the signals below.
            with contextlib.suppress(PostgresLaunchError):
                _pg_ctl(server, "stop", "-m", "fast", "-w", "-t", "20")
        if pid is not None and stop_pids([(pid, str(server.data_dir))], 5.0):
            raise PostgresLaunchError(f"postgres {name!r} (pid {pid}) did not exit")
        shutil.rmtree(server.data_dir.parent, ignore_errors=True)
        shutil.rmtree(directory, ignore_errors=True)
        return True


def load_postgres(name: str = "local") -> PostgresServer | None:
    try:
        document = json.loads((paths.postgres_server_dir(name) / "server.json").read_text())
    except FileNotFoundError:
        return None
    return PostgresServer(
        name=str(document["name"]),
        directory=paths.postgres_server_dir(name),
        data_dir=Path(document["data_dir"]),
        port=int(document["port"]),
        bin_dir=Path(document["bin_dir"]),
    )


def _initialise(name: str, directory: Path, port: int | None) -> PostgresServer:
    bin_dir = find_bin_dir()
    if bin_dir is None or not (bin_dir / "initdb").exists():
        raise PostgresLaunchError(
            "PostgreSQL server binaries not found; run deploy/local/install-system-deps.sh"
        )
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    server_root = _server_root(directory, name)
    server = PostgresServer(
        name=name,
        directory=directory,
        data_dir=server_root / "data",
        port=port or free_ports(1)[0],
        bin_dir=bin_dir,
    )
    result = _run_as_server_user(
        [
            str(bin_dir / "initdb"),
            "-D",
            str(server.data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ],
        cwd=server_root,
    )
    if result.returncode != 0:
        raise PostgresLaunchError(f"initdb failed:\n{result.stdout}{result.stderr}")
    document: dict[str, Any] = {
        "name": name,
        "data_dir": str(server.data_dir),
        "port": server.port,
        "bin_dir": str(bin_dir),
        "dsn": server.dsn(),
        "log": str(server.log_path),
    }
    (directory / "server.json").write_text(json.dumps(document, indent=2) + "\n")
    return server


def _server_root(directory: Path, name: str) -> Path:
    """Where the data dir lives: in the state dir, unless the server user cannot reach it."""
    account = _server_account()
    if account is None:
        return directory
    os.chown(directory, account.pw_uid, account.pw_gid)
    probe = _run_as_server_user(["test", "-w", str(directory)], cwd=Path("/"))
    if probe.returncode == 0:
        return directory
    # The repo sits under a directory `postgres` cannot traverse (e.g. /root).
    fallback = Path(tempfile.mkdtemp(prefix=f"govbus-pg-{name}-"))
    os.chown(fallback, account.pw_uid, account.pw_gid)
    return fallback


def _options(server: PostgresServer) -> str:
    # TCP on loopback only, no socket file; durability off since the data is throwaway.
    return (
        f"-p {server.port} -c listen_addresses={HOST} -c unix_socket_directories='' "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        "-c max_connections=200"
    )


def _pg_ctl(server: PostgresServer, *args: str) -> None:
    command = [str(server.bin_dir / "pg_ctl"), "-D", str(server.data_dir), *args]
    result = _run_as_server_user(command, cwd=server.data_dir.parent)
    if result.returncode != 0:
        raise PostgresLaunchError(
            f"pg_ctl {args[0]} failed ({result.returncode}):\n{result.stdout}{result.stderr}\n"
            f"log:\n{log_tail(server.log_path)}"
        )


def _server_account() -> pwd.struct_passwd | None:
    """The account to run the server as: None means ourselves (we are not root)."""
    if os.geteuid() != 0:
        return None
    user = os.environ.get("GOVBUS_PG_USER", "postgres")
    try:
        return pwd.getpwnam(user)
    except KeyError:
        raise PostgresLaunchError(
            f"running as root, and PostgreSQL refuses root: create the {user!r} user "
            "(Debian's postgresql package does) or set GOVBUS_PG_USER"
        ) from None


def _run_as_server_user(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    account = _server_account()
    if account is None:
        return subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    env = dict(os.environ, HOME=account.pw_dir, USER=account.pw_name, LOGNAME=account.pw_name)
    return subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        user=account.pw_uid,
        group=account.pw_gid,
        extra_groups=[],
    )
