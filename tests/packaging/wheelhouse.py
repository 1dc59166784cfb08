"""An offline wheelhouse for a fresh venv: the running environment's own distributions,
packed back into wheels from their RECORD.

A fresh venv then installs govbus's wheel with `pip --no-index`: its declared dependencies
are resolved against exactly the versions the tests run with, without a network or a pip
cache. Only the closure of what the wheel requires is packed, so a runtime dependency that
is missing from pyproject (or only a dev dependency) fails the install or the run.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from collections.abc import Iterable
from email.parser import Parser
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.tags import sys_tags
from packaging.utils import canonicalize_name

_SKIPPED_META = frozenset({"INSTALLER", "REQUESTED", "RECORD", "direct_url.json"})


def wheel_requirements(wheel: Path) -> list[Requirement]:
    """The Requires-Dist of a built wheel, for a plain install (no extras)."""
    with zipfile.ZipFile(wheel) as zf:
        [meta] = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        message = Parser().parsestr(zf.read(meta).decode())
    reqs = [Requirement(r) for r in message.get_all("Requires-Dist") or []]
    return [r for r in reqs if r.marker is None or r.marker.evaluate({"extra": ""})]


def closure(requirements: Iterable[Requirement]) -> list[metadata.Distribution]:
    """The installed distributions that satisfy `requirements`, transitively."""
    wanted: dict[str, set[str]] = {}
    todo = list(requirements)
    found: dict[str, metadata.Distribution] = {}
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        extras = wanted.setdefault(name, set())
        if name in found and set(req.extras) <= extras:
            continue
        extras.update(req.extras)
        dist = found.get(name) or metadata.distribution(req.name)
        found[name] = dist
        for raw in dist.requires or []:
            sub = Requirement(raw)
            if sub.marker is None or any(
                sub.marker.evaluate({"extra": e}) for e in ("", *sorted(extras))
            ):
                todo.append(sub)
    return list(found.values())


def repack(dist: metadata.Distribution, out: Path) -> Path:
    """One installed distribution as a wheel in `out` (scripts come back from entry points)."""
    wheel_meta = dist.read_text("WHEEL") or ""
    supported = {str(t) for t in sys_tags()}
    tags = [t for t in re.findall(r"^Tag: (\S+)$", wheel_meta, re.MULTILINE) if t in supported]
    if not tags:
        raise RuntimeError(f"{dist.metadata['Name']}: no WHEEL tag this interpreter supports")
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"]).lower()
    target = out / f"{name}-{dist.version}-{tags[0]}.whl"
    if target.exists():
        return target
    record: list[str] = []
    dist_info = ""
    partial = target.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as zf:
        for file in dist.files or []:
            path = file.as_posix()
            parts = path.split("/")
            if parts[0] == ".." or "__pycache__" in parts or path.endswith(".pyc"):
                continue
            if parts[0].endswith(".dist-info"):
                dist_info = parts[0]
                if parts[-1] in _SKIPPED_META:
                    continue
            source = Path(str(dist.locate_file(file)))
            if not source.is_file():
                continue
            data = source.read_bytes()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            zf.writestr(path, data)
            record.append(f"{path},sha256={digest.decode()},{len(data)}")
        record.append(f"{dist_info}/RECORD,,")
        zf.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    partial.replace(target)
    return target
