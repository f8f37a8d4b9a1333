"""Batch test helpers: photo files to run on, and what a run left in its ledger and folder."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from faceless.batch import Ledger, ledger_path
from faceless.batch.ledger import Entry
from faceless.core.digest import sha256_file
from mediagen import portrait_scene


def photo(path: Path, **kw) -> Path:
    """A generated portrait scene saved at `path` (its folder made)."""
    frame, _ = portrait_scene(**kw)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(frame).save(path)
    return path


def entries(out: Path) -> dict[str, Entry]:
    """The ledger of the output folder `out`, by input."""
    with Ledger(ledger_path(out), create=False) as ledger:
        return {e.input: e for e in ledger.entries()}


def files(out: Path) -> dict[str, str]:
    """sha256 of every output under `out`, the ledger's folder left out."""
    return {p.relative_to(out).as_posix(): sha256_file(p) for p in sorted(out.rglob("*"))
            if p.is_file() and ".faceless" not in p.relative_to(out).parts}
