"""Background server processes: start detached, check, and stop exactly our own pids."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path


def free_ports(count: int) -> list[int]:
    """Ports the kernel reports free on 127.0.0.1; all held open until chosen, so distinct."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


# Popen objects of servers we started, kept so they are not garbage-collected while running.
_children: dict[int, subprocess.Popen[bytes]] = {}


def spawn_detached(args: Sequence[str], log_path: Path, cwd: Path) -> int:
    """Start a server in its own session so Ctrl-C in the terminal does not reach it."""
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            list(args),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _children[process.pid] = process
    return process.pid


def is_running(pid: int, marker: str | None = None) -> bool:
    """True while `pid` is a live (non-zombie) process whose command line contains `marker`.

    The marker guards against pid reuse: a recycled pid belongs to someone else's process.
    """
    _reap(pid)
    # Right after fork/exec (and while the java launcher re-executes itself) the kernel
    # briefly shows an empty command line; read again rather than call the process gone.
    for _attempt in range(50):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            return False
        # Field 3, after the parenthesised command name, is the state; Z is a zombie.
        if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            return False
        if cmdline or marker is None:
            return marker is None or marker.encode() in cmdline
        time.sleep(0.01)
    return False


def stop_pids(processes: Sequence[tuple[int, str]], timeout: float = 10.0) -> list[int]:
    """SIGTERM our (pid, marker) processes together, SIGKILL what is left after `timeout`.

    Returns the pids still alive at the end, which should be none.
    """
    ours = [(pid, marker) for pid, marker in processes if is_running(pid, marker)]
    for pid, _marker in ours:
        _signal(pid, signal.SIGTERM)
    _wait_gone(ours, timeout)
    for pid, marker in ours:
        if is_running(pid, marker):
            _signal(pid, signal.SIGKILL)
    _wait_gone(ours, 5.0)
    return [pid for pid, marker in ours if is_running(pid, marker)]


def _wait_gone(processes: Sequence[tuple[int, str]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(is_running(p, m) for p, m in processes):
        time.sleep(0.05)


def kill_now(pid: int, marker: str) -> None:
    """SIGKILL one process (a crash, for failure tests) and wait until it is gone."""
    if not is_running(pid, marker):
        return
    _signal(pid, signal.SIGKILL)
    _wait_gone([(pid, marker)], 5.0)


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def locked(lock_path: Path, *, remove: bool = False) -> Iterator[None]:
    """Serialise launchers working on the same server (two terminals, two test runs).

    `remove`: delete the lock file on the way out (the server is gone), so no lock files
    outlive their servers. A waiter that then wakes on the deleted file retries on the path.
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        handle = open(lock_path, "a")  # noqa: SIM115 - held across the yield
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            current = os.stat(lock_path).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            current = False
        if current:
            break
        handle.close()
    try:
        yield
    finally:
        if remove:
            lock_path.unlink(missing_ok=True)
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _reap(pid: int) -> None:
    # A child we started and that has exited stays a zombie until waited for.
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        del _children[pid]
