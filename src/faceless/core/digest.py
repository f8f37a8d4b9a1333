"""File fingerprints: the sha256 that plans, model cards and audit logs record."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

from faceless.core.errors import MediaMissingError, MediaReadError


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks so large media do not fill memory.

    Only a regular file is read: a FIFO or a device would block or never end, so it is
    refused (opened without blocking, then checked). Failures are MediaReadError (an
    OSError) with one line that names the file.
    """
    h = hashlib.sha256()
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError as err:  # still a FileNotFoundError for callers that ask
        raise MediaMissingError(_cannot_read(path, err)) from err
    except OSError as err:
        raise MediaReadError(_cannot_read(path, err)) from err
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise MediaReadError(f"{path}: not a regular file (a pipe, device or socket); "
                                 "give faceless the media file itself")
        try:
            while block := f.read(chunk):
                h.update(block)
        except OSError as err:
            raise MediaReadError(_cannot_read(path, err)) from err
    return h.hexdigest()


def _cannot_read(path: Path, err: OSError) -> str:
    if err.errno == errno.ENOENT:
        return f"{path}: no such file (moved or deleted?); check the path"
    if err.errno == errno.EACCES:
        return f"{path}: permission denied; make the file readable and run again"
    if err.errno == errno.ELOOP:
        return f"{path}: a symbolic link that points to itself; fix or remove the link"
    return f"{path}: cannot read the file ({err.strerror or err}); check the drive and run again"
