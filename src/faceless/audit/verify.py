"""Verify an audit log: the hash chain line by line, its signatures, then the files it names."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faceless.audit.errors import SigningUnavailableError
from faceless.audit.keys import fingerprint, load_public, short
from faceless.audit.log import FIELDS, FORMAT_VERSION, GENESIS, ROLES, encode, line_hash
from faceless.audit.signature import SIGN_EVENT, Signature, check
from faceless.core.digest import sha256_file

# Every canonical line starts so (keys sorted: "actor" is first); a crash's fragment does too.
LINE_START = b'{"actor":'


@dataclass
class Verification:
    """What `verify` found: errors (the first broken line, changed files) and warnings."""

    path: Path
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # (line number, record) of every line that verified, in order
    records: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    files_checked: int = 0
    head: str | None = None  # hash of the last verified line: write it down, or sign it
    signatures: list[Signature] = field(default_factory=list)  # the valid ones, in order

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {"log": str(self.path), "ok": self.ok, "lines": len(self.records),
                "files_checked": self.files_checked, "head": self.head,
                "signatures": [s.to_dict() for s in self.signatures],
                "errors": self.errors, "warnings": self.warnings}


def resolve(log: Path, stored: str) -> Path:
    """A path as the log names it: relative ones are relative to the log's folder."""
    p = Path(stored)
    return p if p.is_absolute() else Path(os.path.abspath(log)).parent / p


def _shape_error(rec: Any) -> str | None:
    """Why a parsed line is not an audit record, or None when it is one."""
    if not isinstance(rec, dict):
        return "is not a JSON object"
    missing = [f for f in FIELDS if f not in rec]
    if missing:
        return f"misses field(s) {', '.join(missing)}"
    if rec["v"] != FORMAT_VERSION:
        return f"has format version {rec['v']!r}; this faceless reads version {FORMAT_VERSION}"
    if not isinstance(rec["seq"], int) or not isinstance(rec["prev"], str):
        return "has a seq or prev of the wrong type"
    files = rec["files"]
    if not isinstance(files, list) or not all(
            isinstance(f, dict) and f.get("role") in ROLES and isinstance(f.get("path"), str)
            and isinstance(f.get("sha256"), str) for f in files):
        return "has a malformed 'files' list"
    return None


def _chain(v: Verification, data: bytes) -> None:
    """Check every complete line; stop at the first one that breaks the chain."""
    *lines, tail = data.split(b"\n")
    seq, prev = 0, GENESIS
    fragment: int | None = None  # line number of a non-JSON line that may be a crash's
    for n, line in enumerate(lines, start=1):
        try:
            rec = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            if fragment is None and line.startswith(LINE_START) and (n < len(lines) or tail):
                # Possibly an interrupted write the next append chained over (see log.py);
                # the next line's prev decides.
                fragment, prev = n, line_hash(line)
                continue
            what = err.msg if isinstance(err, json.JSONDecodeError) else "not UTF-8"
            bad = n if fragment is None else fragment  # name the first line that broke
            after = (f"the {len(v.records)} line(s) before it verify" if v.records
                     else "this is not a faceless audit log")
            v.errors.append(f"line {bad}: not valid JSON ({what}); {after}")
            return
        why = _shape_error(rec)
        if why is None and encode(rec) != line + b"\n":
            why = "is not in the log's canonical form (sorted keys, no spaces): it was edited"
        if why is None and rec["seq"] != seq:
            why = (f"has seq {rec['seq']}, expected {seq} (a line was removed, repeated or "
                   "moved)")
        if why is None and rec["prev"] != prev:
            before = f"line {n - 1}" if n > 1 else "the start of the log"
            why = (f"names prev {rec['prev'][:12]}..., but {before} hashes to {prev[:12]}... "
                   f"({before} was changed, removed or moved)")
        if why is not None:
            if fragment is not None:
                why = f"line {fragment}: not valid JSON, and line {n} does not chain over it"
                v.errors.append(why)
            else:
                v.errors.append(f"line {n} {why}")
            return
        if fragment is not None:
            v.warnings.append(f"line {fragment}: an incomplete line (a write interrupted by a "
                              f"crash), kept in place; line {n} chains over it")
            fragment = None
        v.records.append((n, rec))
        seq, prev = seq + 1, line_hash(line)
        v.head = prev
    if tail and not tail.startswith(LINE_START):
        v.errors.append(f"line {len(lines) + 1}: not an audit log line (not JSON); the "
                        f"{len(v.records)} line(s) before it verify")
    elif tail:
        v.errors.append(f"line {len(lines) + 1}: the last line is incomplete (no newline; "
                        f"likely a crash mid-write); the {len(v.records)} line(s) before it "
                        "verify")


def _files(v: Verification, allow_missing: bool) -> None:
    """Each file against the last hash the log recorded for it (earlier ones are history)."""
    latest: dict[str, tuple[int, str]] = {}
    for n, rec in v.records:
        for f in rec["files"]:
            latest[f["path"]] = (n, f["sha256"])
    for stored, (n, expected) in latest.items():
        path = resolve(v.path, stored)
        try:
            actual = sha256_file(path)
        except FileNotFoundError:
            msg = f"{stored}: missing (named by line {n}, sha256 {expected[:12]}...)"
            (v.warnings if allow_missing else v.errors).append(msg)
            continue
        except OSError as err:
            v.errors.append(f"{stored}: cannot be read ({err.strerror or err})")
            continue
        v.files_checked += 1
        if actual != expected:
            v.errors.append(f"{stored}: changed since line {n} (sha256 expected "
                            f"{expected[:12]}..., now {actual[:12]}...)")


def _signatures(v: Verification, trusted: Sequence[str]) -> None:
    """Check each sign event that chained; with `trusted` fingerprints, each must have
    signed; lines after the last (trusted) signature are a warning."""
    for n, rec in v.records:
        if rec["event"] != SIGN_EVENT:
            continue
        try:
            result = check(n, rec)
        except SigningUnavailableError as err:
            v.warnings.append(f"line {n}: signature not checked: {err}")
            continue
        if isinstance(result, Signature):
            v.signatures.append(result)
        else:
            v.errors.append(result)
    for fp in trusted:
        if not any(s.fingerprint == fp for s in v.signatures):
            others = sorted({short(s.fingerprint) for s in v.signatures})
            by = f"; signed by {', '.join(others)}" if others else "; it is not signed"
            v.errors.append(f"not signed by {short(fp)} (the key given with --key){by}")
    counted = [s for s in v.signatures if not trusted or s.fingerprint in trusted]
    if counted and v.records and v.records[-1][0] > counted[-1].line:
        after = sum(1 for n, _ in v.records if n > counted[-1].line)
        v.warnings.append(f"{after} line(s) unsigned after line {counted[-1].line} (the last "
                          "signature; sign the log again to cover them)")


def verify(path: Path, allow_missing: bool = False, keys: Sequence[Path] = ()) -> Verification:
    """Recompute the chain of the log at `path`, check its signatures, then re-hash every file
    it names. Each public key in `keys` (PEM files) must have signed it."""
    # Keys first: an unusable key is the caller's mistake (an exception), not the log's.
    trusted = [fingerprint(load_public(k)) for k in keys]
    v = Verification(Path(path))
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        v.errors.append(f"{path}: no such audit log")
        return v
    except OSError as err:
        v.errors.append(f"{path}: cannot read the audit log ({err.strerror or err})")
        return v
    if not data.strip():
        v.errors.append(f"{path}: the audit log is empty")
        return v
    _chain(v, data)
    _signatures(v, trusted)
    _files(v, allow_missing)
    return v
