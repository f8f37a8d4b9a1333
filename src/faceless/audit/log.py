"""The append-only, hash-chained audit log (JSONL; format in the module docstring below).

Each line is one JSON object with sorted keys and no spaces, ending in "\\n":
``v`` (format version), ``seq`` (0, 1, ...), ``time`` (UTC, ISO 8601, ``Z``), ``event``,
``actor``, ``tool``, ``files`` (``role``, ``path``, ``sha256``), ``settings``, ``models``,
``details`` and ``prev``: the hex sha256 of the previous line's bytes without its newline
(64 zeros for the first line). The log holds fingerprints and settings, never pixels and
never recognised text.

A crash can leave the last line incomplete (no newline). The next append leaves that fragment
in place, ends it with a newline and chains over it: its ``prev`` is the fragment's hash and
its ``seq`` follows the last complete line. So the fragment can no longer be changed unseen,
and `verify` reports it as a warning; an incomplete line at the very end is an error.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from faceless import __version__
from faceless.audit.errors import AuditDataError, AuditError
from faceless.core.digest import sha256_file

FORMAT_VERSION = 1
GENESIS = "0" * 64
ROLES = ("input", "plan", "output")
FIELDS = ("v", "seq", "time", "event", "actor", "tool", "files", "settings", "models",
          "details", "prev")
_CHUNK = 1 << 16


def line_hash(line: bytes) -> str:
    """The chain hash of one line: sha256 of its bytes without the newline."""
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def encode(record: Mapping[str, Any]) -> bytes:
    """The canonical bytes of a record, newline included (sorted keys, no spaces, UTF-8)."""
    try:
        text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)
    except (TypeError, ValueError) as err:
        raise AuditDataError(f"audit event cannot be written as JSON: {err}") from err
    return text.encode("utf-8") + b"\n"


def default_actor() -> str:
    """The OS user name, or "unknown" where the system cannot say (no passwd entry, no env)."""
    try:
        return getpass.getuser() or "unknown"
    except Exception:  # getuser raises OSError or KeyError depending on the platform
        return "unknown"


def stored_path(path: Path, folder: Path) -> str:
    """How a file is named in the log: relative to the log's folder when inside it, else
    absolute, so `verify` finds it from anywhere and the folder can move as a whole."""
    resolved = Path(os.path.abspath(path))
    try:
        return resolved.relative_to(folder).as_posix()
    except ValueError:
        return str(path) if Path(path).is_absolute() else str(resolved)


def _tail(fd: int, size: int) -> tuple[bytes | None, bytes]:
    """The last complete line (with its newline) and any incomplete bytes after it."""
    end = size
    buf = b""
    while True:
        start = max(0, end - _CHUNK)
        buf = os.pread(fd, end - start, start) + buf
        end = start
        last_nl = buf.rfind(b"\n")
        if last_nl >= 0:
            before = buf.rfind(b"\n", 0, last_nl)
            if before >= 0 or start == 0:
                return buf[before + 1:last_nl + 1], buf[last_nl + 1:]
        elif start == 0:
            return None, buf


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        rec = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return rec if isinstance(rec, dict) and isinstance(rec.get("seq"), int) else None


class AuditLog:
    """An audit log file: append events, each chained to the line before by its hash."""

    def __init__(self, path: Path, actor: str | None = None) -> None:
        self.path = Path(path)
        self.actor = actor if actor else default_actor()

    @property
    def folder(self) -> Path:
        return Path(os.path.abspath(self.path)).parent

    def _files(self, groups: Sequence[tuple[str, Sequence[Path]]]) -> list[dict[str, str]]:
        out = []
        for role, paths in groups:
            for p in paths:
                try:
                    digest = sha256_file(Path(p))
                except OSError as err:
                    raise AuditError(f"{p}: cannot fingerprint the {role} for the audit log "
                                     f"({err.strerror or err})") from err
                out.append({"role": role, "path": stored_path(Path(p), self.folder),
                            "sha256": digest})
        return out

    def append(self, event: str, *, inputs: Sequence[Path] = (), plans: Sequence[Path] = (),
               outputs: Sequence[Path] = (), settings: Mapping[str, Any] | None = None,
               models: Sequence[Mapping[str, str]] | None = None,
               details: Mapping[str, Any] | None = None,
               finish: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """Record one event (hashing the files it names) and return the record written.

        `finish`, if given, is called under the lock with ``seq``, ``prev`` and ``time`` set,
        and may complete the record or raise to write nothing (`sign_log` signs there).
        """
        if not isinstance(event, str) or not event.strip():
            raise AuditDataError("an audit event needs a name (detect, run, render, ...)")
        # Hash before taking the lock: large media take seconds and other writers may wait.
        files = self._files((("input", inputs), ("plan", plans), ("output", outputs)))
        record: dict[str, Any] = {
            "v": FORMAT_VERSION, "event": event, "actor": self.actor,
            "tool": f"faceless {__version__}", "files": files,
            "settings": dict(settings or {}), "models": [dict(m) for m in models or ()],
            "details": dict(details or {})}
        encode(record)  # refuse what cannot be written before touching the log
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as err:
            raise AuditError(f"{self.path}: cannot open the audit log ({err.strerror or err})"
                             ) from err
        try:
            # An exclusive lock: two processes appending at once would fork the chain.
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            prefix = b""
            seq, prev = 0, GENESIS
            if size:
                last, fragment = _tail(fd, size)
                parsed = _parse(fragment) if fragment else None
                if parsed is not None:
                    # A whole record only lacking its newline: finish it and chain from it.
                    prefix, seq, prev = b"\n", parsed["seq"] + 1, line_hash(fragment)
                else:
                    rec = _parse(last) if last else None
                    if last and rec is None:
                        raise AuditDataError(f"{self.path}: the last line is not an audit "
                                             "record; run `faceless audit verify` on it")
                    seq = rec["seq"] + 1 if rec else 0
                    prev = line_hash(last) if last else GENESIS
                    if fragment:  # an interrupted write: keep it and chain over it
                        prefix, prev = b"\n", line_hash(fragment)
            record["seq"] = seq
            record["prev"] = prev
            record["time"] = datetime.now(UTC).isoformat(timespec="milliseconds").replace(
                "+00:00", "Z")
            if finish is not None:
                finish(record)
            data = prefix + encode(record)
            # One write of the whole line: with O_APPEND and the lock, lines never interleave.
            written = os.write(fd, data)
            if written != len(data):
                raise AuditError(f"{self.path}: short write to the audit log "
                                 f"({written} of {len(data)} bytes; is the disk full?)")
            os.fsync(fd)
        except OSError as err:
            if isinstance(err, AuditError):
                raise
            raise AuditError(f"{self.path}: cannot write the audit log ({err.strerror or err})"
                             ) from err
        finally:
            os.close(fd)  # closing releases the lock
        return record
