"""The tamper-evident audit trail: a hash-chained JSONL log, its verification, signatures
(optional, ``faceless[sign]``) and reports."""

from __future__ import annotations

from faceless.audit.errors import (
    AuditDataError,
    AuditError,
    AuditKeyError,
    SigningUnavailableError,
)
from faceless.audit.keys import keygen
from faceless.audit.log import AuditLog
from faceless.audit.sign import sign_log
from faceless.audit.verify import Verification, verify

__all__ = ["AuditDataError", "AuditError", "AuditKeyError", "AuditLog",
           "SigningUnavailableError", "Verification", "keygen", "sign_log", "verify"]
