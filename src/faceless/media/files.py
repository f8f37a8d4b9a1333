"""Output naming, input/output safety checks and atomic writes."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from faceless.core.errors import MediaReadError, MediaWriteError, OutputExistsError

OUTPUT_TAG = "faceless"


def default_output(src: Path) -> Path:
    """`street.jpg` -> `street.faceless.jpg`, next to the input."""
    return src.with_name(f"{src.stem}.{OUTPUT_TAG}{src.suffix}")


def is_output_name(path: Path) -> bool:
    """True for names faceless writes, so a folder run does not re-process its own outputs."""
    return f".{OUTPUT_TAG}." in path.name or path.name.endswith(".plan.json")


def check_paths(src: Path, dst: Path, overwrite: bool) -> None:
    """Refuse to write over an input, or over an existing output unless asked to."""
    if not src.exists():
        raise MediaReadError(f"{src}: no such file; check the path")
    if dst.exists() and dst.resolve() == src.resolve():
        raise OutputExistsError(f"{dst}: the output path is the input itself; "
                                "faceless never overwrites an input, choose another output")
    if dst.exists() and not overwrite:
        raise OutputExistsError(f"{dst}: output exists; pass --overwrite to replace it")
    if dst.exists() and dst.is_dir():
        raise OutputExistsError(f"{dst}: output path is a folder")


@contextlib.contextmanager
def atomic_output(dst: Path) -> Iterator[Path]:
    """Yield a temporary path beside `dst` (same suffix); rename it to `dst` only on success.

    On any exception the temporary file is removed, so a failed item leaves nothing behind.
    """
    parent = dst.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise MediaWriteError(
            f"{parent}: cannot create the output folder ({err.strerror})") from err
    if not os.access(parent, os.W_OK | os.X_OK):
        raise MediaWriteError(f"{parent}: output folder is not writable; "
                              "choose another with -o or fix its permissions")
    tmp = parent / f".{dst.name}.tmp-{secrets.token_hex(4)}{dst.suffix}"
    try:
        yield tmp
        try:
            os.replace(tmp, dst)
        except OSError as err:
            raise MediaWriteError(f"{dst}: cannot move the finished output into place "
                                  f"({err.strerror})") from err
    finally:
        tmp.unlink(missing_ok=True)
