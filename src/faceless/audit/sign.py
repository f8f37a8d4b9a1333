"""Sign an audit log: verify it, then append a `sign` event signing its head with Ed25519."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from faceless.audit.errors import AuditDataError
from faceless.audit.keys import fingerprint, load_private, sign_bytes
from faceless.audit.log import AuditLog
from faceless.audit.signature import ALGORITHM, SIGN_EVENT, Signature, b64, message
from faceless.audit.verify import verify

_TRIES = 3  # another process appending between our verify and our append: verify again


class _Moved(Exception):
    """The log grew after it was verified (internal: sign_log verifies again)."""


def sign_log(path: Path, key_path: Path, actor: str | None = None) -> Signature:
    """Verify the log at `path` (files that are gone are allowed), then append a sign event
    whose signature by the key at `key_path` covers every line; return that signature."""
    private, public = load_private(key_path)
    fp = fingerprint(public)
    log = AuditLog(Path(path), actor=actor)
    for _ in range(_TRIES):
        v = verify(path, allow_missing=True)
        if not v.ok:
            # A signature says "I checked this": never put one on a log that does not verify.
            raise AuditDataError(f"{path}: does not verify, not signing it: {v.errors[0]}")
        head, last = v.head, v.records[-1][0]

        def finish(record: dict[str, Any], head: str | None = head) -> None:
            # Under the log's lock: sign only the head that was verified above.
            if record["prev"] != head:
                raise _Moved
            record["details"]["head"] = record["prev"]
            record["details"]["seq"] = record["seq"] - 1
            record["details"]["signature"] = b64(sign_bytes(private, message(record)))

        try:
            rec = log.append(SIGN_EVENT, details={"algorithm": ALGORITHM, "key": b64(public),
                                                  "fingerprint": fp}, finish=finish)
        except _Moved:
            continue
        return Signature(last + 1, fp, rec["prev"], log.actor, rec["time"])
    raise AuditDataError(f"{path}: the log kept growing while it was being signed; sign it "
                         "when no run is writing to it")
