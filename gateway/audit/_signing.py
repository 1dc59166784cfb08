"""Ed25519 keys for checkpoints: the gateway signs with the private key, verify uses the public.

The private key is a PEM (PKCS#8) file named by GOVBUS_AUDIT_SIGNING_KEY. In a checkout an
unset setting means `.govbus/audit-signing-key.pem`, generated on first use; an installed
gateway refuses to start without one (`govbus audit keygen PATH` makes it).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from govbus.gateway.audit._chain import Checkpoint, now_at

DEV_KEY_NAME = "audit-signing-key.pem"


class AuditKeyError(ValueError):
    """A missing or unreadable key file; `code` is what the CLI prints."""

    def __init__(self, message: str, code: str = "AUDIT_KEY_INVALID") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def write_new_key(path: Path) -> Ed25519PrivateKey:
    """A fresh key at `path`, readable by its owner only; refuses to overwrite."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise AuditKeyError(f"{path} exists already", "AUDIT_KEY_EXISTS") from exc
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return key


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise AuditKeyError(
            f"{path}: no audit signing key; make one with `govbus audit keygen {path}`",
            "AUDIT_KEY_MISSING",
        ) from exc
    except (OSError, ValueError, TypeError) as exc:
        raise AuditKeyError(f"{path}: not a readable PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyError(f"{path}: not an Ed25519 key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A PEM public key, or the public half of a PEM private key."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AuditKeyError(f"{path}: cannot read the key", "AUDIT_KEY_MISSING") from exc
    if b"PRIVATE KEY" in data:
        return load_private_key(path).public_key()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise AuditKeyError(f"{path}: not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise AuditKeyError(f"{path}: not an Ed25519 key")
    return key


def signing_key_path(configured: Path | None, checkout: Path | None, state_dir: Path) -> Path:
    """The configured key file, else (in a checkout only) the development key in `state_dir`."""
    if configured is not None:
        return configured
    if checkout is None:
        raise AuditKeyError(
            "no audit signing key: set GOVBUS_AUDIT_SIGNING_KEY=PATH; make the key with "
            "`govbus audit keygen PATH`",
            "AUDIT_KEY_MISSING",
        )
    path = state_dir / DEV_KEY_NAME
    if not path.exists():
        with contextlib.suppress(AuditKeyError):  # another process made it first
            write_new_key(path)
    return path


class CheckpointSigner:
    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.key_id = key_id(private_key.public_key())

    def sign(self, seq: int, head_hash: str, at: str | None = None) -> Checkpoint:
        unsigned = Checkpoint(
            seq=seq, hash=head_hash, at=at or now_at(), key_id=self.key_id, signature=""
        )
        signature = self._key.sign(unsigned.signed_message()).hex()
        return unsigned.model_copy(update={"signature": signature})


def signature_valid(checkpoint: Checkpoint, public_key: Ed25519PublicKey) -> bool:
    try:
        public_key.verify(bytes.fromhex(checkpoint.signature), checkpoint.signed_message())
    except (InvalidSignature, ValueError):
        return False
    return True
