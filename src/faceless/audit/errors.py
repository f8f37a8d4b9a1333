"""Errors of the audit log: each a FacelessError and the matching built-in."""

from __future__ import annotations

from faceless.core.errors import FacelessError


class AuditError(FacelessError, OSError):
    """The audit log, or a file it must fingerprint, cannot be read or written."""


class AuditDataError(FacelessError, ValueError):
    """An event cannot be recorded as it is (not JSON-serialisable, no event name)."""


class AuditKeyError(FacelessError, ValueError):
    """A key file is not a usable Ed25519 key of the kind asked for (private or public)."""


class SigningUnavailableError(FacelessError, RuntimeError):
    """Signing or checking signatures needs the optional `cryptography` package."""
