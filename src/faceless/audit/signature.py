"""The `sign` event: what its details hold, the bytes it signs, and checking one.

A sign event's ``details``: ``algorithm`` ("ed25519"), ``key`` (the raw public key, base64),
``fingerprint`` (sha256 of the raw key, hex), ``head`` (the hash of the line before it: its
own ``prev``), ``seq`` (the seq of that line) and ``signature`` (base64). The signature is over
``MESSAGE_PREFIX`` + the canonical bytes of the whole sign record without ``signature``: so
it covers every line before (through ``head``) and the sign line itself, which the chain
alone cannot protect while it is the last line.
"""

from __future__ import annotations

import base64
import binascii
import copy
from dataclasses import dataclass
from typing import Any

from faceless.audit.keys import RAW_KEY_BYTES, fingerprint, short, signature_ok
from faceless.audit.log import encode

SIGN_EVENT = "sign"
ALGORITHM = "ed25519"
# Domain separation: a signature made here can never pass as one over other data.
MESSAGE_PREFIX = b"faceless audit log signature v1\n"
SIGNATURE_BYTES = 64
DETAIL_TYPES = {"algorithm": str, "key": str, "fingerprint": str, "head": str, "seq": int,
                "signature": str}


@dataclass(frozen=True)
class Signature:
    """A valid signature: by which key, at which line (it covers every line up to it)."""

    line: int
    fingerprint: str
    head: str  # the hash of the line before the sign event
    actor: str
    time: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "fingerprint": self.fingerprint, "head": self.head,
                "actor": self.actor, "time": self.time}


def message(record: dict[str, Any]) -> bytes:
    """The bytes a sign record's signature is over: the record without its signature."""
    unsigned = copy.deepcopy(record)
    unsigned["details"].pop("signature", None)
    return MESSAGE_PREFIX + encode(unsigned)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, size: int) -> bytes | None:
    """Decoded bytes of exactly `size`, only from canonical base64 (else any byte of it
    could change unseen: non-canonical spellings decode to the same bytes)."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if len(data) == size and b64(data) == text else None


def check(line: int, rec: dict[str, Any]) -> Signature | str:
    """The Signature of a sign record that chained, or why it does not hold."""
    d = rec["details"]
    if not isinstance(d, dict) or any(not isinstance(d.get(k), t) or isinstance(d.get(k), bool)
                                      for k, t in DETAIL_TYPES.items()):
        return (f"line {line}: a sign event without its details "
                f"({', '.join(DETAIL_TYPES)}); it signs nothing")
    if d["algorithm"] != ALGORITHM:
        return f"line {line}: a sign event of unknown algorithm {d['algorithm']!r}"
    if d["head"] != rec["prev"] or d["seq"] != rec["seq"] - 1:
        return (f"line {line}: the sign event names head {d['head'][:12]}... (seq {d['seq']}), "
                "not the line before it")
    key = _unb64(d["key"], RAW_KEY_BYTES)
    sig = _unb64(d["signature"], SIGNATURE_BYTES)
    if key is None or sig is None:
        return f"line {line}: a sign event whose key or signature is not canonical base64"
    fp = fingerprint(key)
    if d["fingerprint"] != fp:
        return f"line {line}: the sign event's fingerprint is not that of its key"
    if not signature_ok(key, message(rec), sig):
        return (f"line {line}: bad signature by key {short(fp)}: the line, or one before it, "
                "was changed after signing, or the signature was replaced")
    return Signature(line, fp, d["head"], str(rec["actor"]), str(rec["time"]))
