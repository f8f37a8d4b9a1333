"""The tamper-evident audit trail: a hash-chained JSONL log, its verification and reports."""

from __future__ import annotations

from faceless.audit.errors import AuditDataError, AuditError
from faceless.audit.log import AuditLog

__all__ = ["AuditDataError", "AuditError", "AuditLog"]
