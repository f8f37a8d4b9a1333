"""The job ledger of a folder run: what each input became, so a re-run resumes.

`OUT/.faceless/ledger.sqlite` (SQLite, WAL mode) holds one row per input, keyed by its path
relative to its input root (which is also its output's path relative to OUT: folder runs
mirror names). A row says with which input sha256 and settings hash the output was made,
the output's sha256, or the error. Each change is one transaction, so a run killed at any
moment leaves a consistent ledger; outputs are written atomically (media.files), so it
leaves no half-written output under a final name either.

A row is `running` from the moment an item is started until it is `done` or `failed`: a run
killed between moving an output into place and recording it leaves `running`, which still
proves the output at that path is faceless's own (it was free, or ours, when claimed).

Claims are atomic: `claim` reads and writes a row in one `BEGIN IMMEDIATE` transaction and
records the claiming process (`owner`: host, pid and the process's start time), so two runs
writing into one folder never process an item twice. A `running` row whose owner is gone (a
killed run) is claimed again; one whose owner still runs is left to it.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from faceless import __version__
from faceless.core.errors import FacelessError
from faceless.media.image import IMAGE_EXTENSIONS
from faceless.media.video import VIDEO_EXTENSIONS

LEDGER_DIR = ".faceless"
LEDGER_NAME = "ledger.sqlite"
SCHEMA_VERSION = 2  # 2: the owner column
STATUSES = ("running", "done", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    input TEXT PRIMARY KEY,           -- relative to its input root
    input_sha256 TEXT NOT NULL,
    settings_sha256 TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    media TEXT NOT NULL,              -- image, video (from the name)
    output TEXT NOT NULL,             -- relative to the output folder
    output_sha256 TEXT,               -- of the output faceless last wrote there
    error TEXT,
    seconds REAL,
    time TEXT NOT NULL,               -- UTC, ISO 8601, of the last change
    owner TEXT                        -- the process that claimed it: host:pid:start
)
"""


class LedgerError(FacelessError, RuntimeError):
    """The ledger cannot be opened or written (locked by another run, corrupt, newer)."""


def ledger_path(out: Path) -> Path:
    return Path(out) / LEDGER_DIR / LEDGER_NAME


def output_folder(inputs: list[Path], output: Path | str | None) -> Path | None:
    """The folder a run writes into (plan_jobs's rule), or None (beside inputs, one file)."""
    if output is None:
        return None
    wants_dir = str(output).endswith(("/", "\\"))
    out = Path(output)
    if out.is_dir() or wants_dir or len(inputs) > 1 or any(i.is_dir() for i in inputs):
        return out
    return None


def settings_hash(settings: dict[str, object]) -> str:
    """sha256 of the canonical JSON of `settings` plus the faceless version."""
    doc = {"settings": settings, "faceless": __version__}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def media_of(path: Path | str) -> str:
    ext = Path(path).suffix.lower()
    return "image" if ext in IMAGE_EXTENSIONS else "video" if ext in VIDEO_EXTENSIONS else "other"


@dataclass(frozen=True)
class Entry:
    input: str
    input_sha256: str
    settings_sha256: str
    status: str
    media: str
    output: str
    output_sha256: str | None
    error: str | None
    seconds: float | None
    time: str
    owner: str | None = None


def _started(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, from /proc), or None if unknown:
    with the pid it names one process, even after the pid is reused."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return stat[stat.rindex(b")") + 2:].split()[19].decode()
    except (OSError, ValueError, IndexError):
        return None


def this_process() -> str:
    """This process as a ledger owner: host, pid and start time."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_started(pid) or ''}"


def owner_alive(owner: str) -> bool:
    """Whether the process that claimed a row still runs. A process on another host cannot
    be checked from here, so it counts as running (its claim is never taken over)."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return False  # not written by a claim: nobody holds it
    host, pid, started = parts[0], int(parts[1]), parts[2]
    if host != socket.gethostname():
        return True
    now = _started(pid)
    if now is not None:
        return not started or now == started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _locked(path: Path, err: sqlite3.Error) -> LedgerError:
    text = str(err)
    if "locked" in text or "busy" in text:
        return LedgerError(f"{path}: the ledger is locked by another faceless run (or another "
                           "program); wait for it to finish, or write into another folder")
    return LedgerError(f"{path}: cannot use the ledger ({text}); move it away to start over")


class Unseen:
    """The type of UNSEEN: a claim made without reading the row first."""


UNSEEN = Unseen()


class Ledger:
    """The ledger of one output folder. Use as a context manager (closes the connection)."""

    def __init__(self, path: Path, timeout: float = 10.0, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise LedgerError(f"{self.path}: no ledger here (a folder run with -o writes one)")
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode: each change below is its own explicit transaction.
            self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        except (OSError, sqlite3.Error) as err:
            raise LedgerError(f"{self.path}: cannot open the ledger ({err})") from err
        try:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise LedgerError(f"{self.path}: written by a newer faceless (ledger version "
                                  f"{version}); use that version, or another output folder")
            if create:
                self._db.execute("PRAGMA journal_mode=WAL")
                with self._transaction():
                    self._db.execute(_SCHEMA)
                    columns = {r[1] for r in self._db.execute("PRAGMA table_info(items)")}
                    if "owner" not in columns:  # written by version 1
                        self._db.execute("ALTER TABLE items ADD COLUMN owner TEXT")
                    self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.Error as err:
            self._db.close()
            raise _locked(self.path, err) from err
        except LedgerError:
            self._db.close()
            raise

    @classmethod
    def for_folder(cls, out: Path, timeout: float = 10.0) -> Ledger:
        return cls(ledger_path(out), timeout)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    class _Tx:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> None:
            self.db.execute("BEGIN IMMEDIATE")

        def __exit__(self, kind: object, *rest: object) -> None:
            self.db.execute("COMMIT" if kind is None else "ROLLBACK")

    def _transaction(self) -> Ledger._Tx:
        return Ledger._Tx(self._db)

    def get(self, key: str) -> Entry | None:
        try:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM items WHERE input = ?",
                                   (key,)).fetchone()
        except sqlite3.Error as err:
            raise _locked(self.path, err) from err
        return Entry(*row) if row else None

    def entries(self) -> list[Entry]:
        try:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM items ORDER BY input").fetchall()
        except sqlite3.Error as err:
            raise _locked(self.path, err) from err
        return [Entry(*r) for r in rows]

    def _write(self, key: str, insert: bool, **values: object) -> None:
        """Insert or replace (`insert`) or update the row of `key`, in one transaction."""
        try:
            with self._transaction():
                self._change(key, insert, **values)
        except sqlite3.Error as err:
            raise _locked(self.path, err) from err

    def _change(self, key: str, insert: bool, **values: object) -> None:
        values["time"] = datetime.now(UTC).isoformat(timespec="seconds")
        names = list(values)
        if insert:
            sql = (f"INSERT OR REPLACE INTO items (input, {', '.join(names)}) "
                   f"VALUES (?, {', '.join('?' for _ in names)})")
            params: tuple[object, ...] = (key, *values.values())
        else:
            sql = (f"UPDATE items SET {', '.join(f'{n} = ?' for n in names)} "
                   "WHERE input = ?")
            params = (*values.values(), key)
        self._db.execute(sql, params)

    def start(self, key: str, input_sha256: str, settings_sha256: str, output: str) -> None:
        """Claim an item whatever its row says (`claim` checks first)."""
        self.claim(key, input_sha256, settings_sha256, output, force=True)

    def claim(self, key: str, input_sha256: str, settings_sha256: str, output: str, *,
              seen: Entry | Unseen | None = UNSEEN, force: bool = False) -> str | None:
        """Claim an item for this process: its output path is now this run's to write.

        Returns None when claimed, else why not (a phrase to follow the file's name):
        another run that still runs holds the item, or its row changed since `seen` (the
        entry the caller decided on: another run claimed or finished it meanwhile). Read
        and write are one transaction, so of two runs claiming one item exactly one gets
        it. `force` claims regardless.
        """
        me = this_process()
        try:
            with self._transaction():
                row = self._db.execute(f"SELECT {_COLUMNS} FROM items WHERE input = ?",
                                       (key,)).fetchone()
                old = Entry(*row) if row else None
                if not force and old is not None and old.owner != me:
                    if old.status == "running" and old.owner and owner_alive(old.owner):
                        pid = old.owner.rsplit(":", 2)[-2]
                        return (f"another faceless run (process {pid}) is processing it "
                                "into the same folder now; left to that run")
                    if not isinstance(seen, Unseen) and old != seen:
                        return (f"another faceless run into the same folder has just "
                                f"{'finished' if old.status == 'done' else 'claimed'} it; "
                                "left as that run recorded it")
                # The output faceless wrote last, if any, stays provably ours.
                self._change(key, True, input_sha256=input_sha256,
                             settings_sha256=settings_sha256, status="running",
                             media=media_of(key), output=output,
                             output_sha256=old.output_sha256 if old else None, error=None,
                             seconds=None, owner=me)
        except sqlite3.Error as err:
            raise _locked(self.path, err) from err
        return None

    def refused(self, key: str, error: str, output: str) -> None:
        """Record an item that could not even be started (its input unreadable or gone),
        unless another live run holds it. The output faceless wrote earlier stays ours."""
        try:
            with self._transaction():
                row = self._db.execute(f"SELECT {_COLUMNS} FROM items WHERE input = ?",
                                       (key,)).fetchone()
                old = Entry(*row) if row else None
                if (old is not None and old.status == "running" and old.owner
                        and old.owner != this_process() and owner_alive(old.owner)):
                    return
                self._change(key, True, input_sha256=old.input_sha256 if old else "",
                             settings_sha256=old.settings_sha256 if old else "",
                             status="failed", media=media_of(key), output=output,
                             output_sha256=old.output_sha256 if old else None, error=error,
                             seconds=0.0, owner=this_process())
        except sqlite3.Error as err:
            raise _locked(self.path, err) from err

    def done(self, key: str, output_sha256: str, seconds: float) -> None:
        self._write(key, False, status="done", output_sha256=output_sha256, error=None,
                    seconds=round(seconds, 3))

    def failed(self, key: str, error: str, seconds: float,
               output_sha256: str | None = None) -> None:
        """Record a failure. Without `output_sha256` (written but not recorded elsewhere) the
        recorded one stays: the output faceless wrote earlier is still there (atomic)."""
        extra = {} if output_sha256 is None else {"output_sha256": output_sha256}
        self._write(key, False, status="failed", error=error, seconds=round(seconds, 3), **extra)


_COLUMNS = ("input, input_sha256, settings_sha256, status, media, output, output_sha256, "
            "error, seconds, time, owner")


@dataclass(frozen=True)
class Decision:
    """What a run does with one item: skip it, or process it (overwriting or not)."""

    skip: bool
    overwrite: bool


def decide(entry: Entry | None, input_sha256: str, settings_sha256: str,
           output_sha256: str | None, force: bool = False) -> Decision:
    """Skip an item done with the same input and settings whose output is unchanged;
    otherwise redo it, replacing the output only where the ledger proves it is ours.

    `output_sha256`: of the file at the item's output path now (None when there is none).
    `force` (--overwrite): redo and replace whatever the ledger says.
    """
    if force:
        return Decision(False, True)
    if entry is None or output_sha256 is None:
        return Decision(False, False)
    ours = entry.status == "running" or entry.output_sha256 == output_sha256
    if (entry.status == "done" and ours and entry.input_sha256 == input_sha256
            and entry.settings_sha256 == settings_sha256):
        return Decision(True, False)
    return Decision(False, ours)


def stale_temporaries(dst: Path) -> Iterator[Path]:
    """Temporary files atomic_output left beside `dst` in a run that was killed."""
    head = f".{dst.name}.tmp-"
    if dst.parent.is_dir():
        for p in dst.parent.iterdir():
            tail = p.name[len(head):]
            if (p.name.startswith(head) and tail.endswith(dst.suffix)
                    and len(tail) == 8 + len(dst.suffix)):
                yield p


__all__ = ["LEDGER_DIR", "LEDGER_NAME", "Decision", "Entry", "Ledger", "LedgerError",
           "decide", "ledger_path", "media_of", "output_folder", "owner_alive",
           "settings_hash", "stale_temporaries", "this_process"]
