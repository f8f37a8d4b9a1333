"""Ed25519 keys for signing audit logs: create, load, fingerprint (cryptography, lazily).

`cryptography` is optional (``faceless[sign]``): it is imported only when a key is made or
used, or a signature checked, so faceless and unsigned logs work without it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from faceless.audit.errors import AuditError, AuditKeyError, SigningUnavailableError
from faceless.core.errors import OutputExistsError

RAW_KEY_BYTES = 32
SHORT = 16  # hex digits of a fingerprint shown to people (64 bits)


def require_crypto() -> None:
    """Raise SigningUnavailableError, saying what to install, when cryptography is missing."""
    try:
        import cryptography  # noqa: F401
    except ImportError as err:
        raise SigningUnavailableError(
            "signing audit logs needs the cryptography package: install faceless[sign] "
            "(pip install 'faceless[sign]')") from err


def fingerprint(raw: bytes) -> str:
    """The fingerprint of a raw Ed25519 public key: its sha256, hex."""
    return hashlib.sha256(raw).hexdigest()


def short(fp: str) -> str:
    """A fingerprint as printed for people."""
    return fp[:SHORT]


def public_pem(raw: bytes) -> bytes:
    """The PEM (SubjectPublicKeyInfo) of a raw Ed25519 public key."""
    require_crypto()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return ed25519.Ed25519PublicKey.from_public_bytes(raw).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    # O_EXCL: never replace a key; losing a private key orphans every signature made with it.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError as err:
        raise OutputExistsError(f"{path}: exists; not overwriting a key") from err
    except OSError as err:
        raise AuditError(f"{path}: cannot write the key ({err.strerror or err})") from err
    try:
        os.write(fd, data)
        os.fsync(fd)
    except OSError as err:
        raise AuditError(f"{path}: cannot write the key ({err.strerror or err})") from err
    finally:
        os.close(fd)


def keygen(path: Path) -> str:
    """Write a new private key to `path` (PEM, mode 0600) and its public key to `path`.pub;
    return the fingerprint. Refuses to overwrite either file."""
    require_crypto()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    path = Path(path)
    pub = Path(f"{path}.pub")
    for p in (path, pub):  # check both first: never leave a private key without its .pub
        if p.exists() or p.is_symlink():
            raise OutputExistsError(f"{p}: exists; not overwriting a key")
    key = ed25519.Ed25519PrivateKey.generate()
    # Unencrypted, protected by the file mode: `sign` runs unattended in scripts.
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    _write_new(path, private, 0o600)
    try:
        _write_new(pub, public_pem(raw), 0o644)
    except (AuditError, OutputExistsError):
        path.unlink()  # a key without its .pub would sign what nobody can check
        raise
    return fingerprint(raw)


def _read(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise AuditError(f"{path}: cannot read the key ({err.strerror or err})") from err


def load_private(path: Path) -> tuple[bytes, bytes]:
    """The private key at `path` as (raw private, raw public) bytes."""
    require_crypto()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    data = _read(path)
    if b"PRIVATE KEY" not in data:
        raise AuditKeyError(f"{path}: not a PEM private key (sign needs the key from "
                            "`faceless audit keygen`, not its .pub)")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as err:  # TypeError: the key is encrypted
        raise AuditKeyError(f"{path}: cannot load the private key ({err})") from err
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise AuditKeyError(f"{path}: not an Ed25519 key (make one with "
                            "`faceless audit keygen`)")
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    return raw, key.public_key().public_bytes(serialization.Encoding.Raw,
                                              serialization.PublicFormat.Raw)


def load_public(path: Path) -> bytes:
    """The raw bytes of the Ed25519 public key (PEM) at `path`."""
    require_crypto()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    data = _read(path)
    if b"PRIVATE KEY" in data:
        # Verifying never needs the secret: refuse it, so it is not passed around.
        raise AuditKeyError(f"{path}: a private key; verify takes the public key ({path}.pub)")
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as err:
        raise AuditKeyError(f"{path}: not a PEM public key ({err})") from err
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise AuditKeyError(f"{path}: not an Ed25519 public key")
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def sign_bytes(private: bytes, message: bytes) -> bytes:
    """The Ed25519 signature of `message` by the raw private key."""
    require_crypto()
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return ed25519.Ed25519PrivateKey.from_private_bytes(private).sign(message)


def signature_ok(public: bytes, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is the raw public key's valid signature of `message`."""
    require_crypto()
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ed25519

    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except InvalidSignature:
        return False
    return True
