"""Output naming, input/output safety checks and atomic writes."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from faceless.core.errors import FacelessError, MediaReadError, MediaWriteError, OutputExistsError

log = logging.getLogger(__name__)

OUTPUT_TAG = "faceless"
# The name atomic_output writes under: `.NAME.tmp-1a2b3c4d.EXT` beside `NAME`.
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.tmp-[0-9a-f]{8}(?P<suffix>\.[^.]*)?")


def _writable_video(suffix: str) -> bool | None:
    """For a video suffix, whether faceless can write that container; None if not a video."""
    # Imported here: PyAV is not needed to name files (and `import faceless` stays light).
    from faceless.media.video.codec import OUTPUT_EXTENSIONS, VIDEO_EXTENSIONS

    if suffix not in VIDEO_EXTENSIONS:
        return None
    return suffix in OUTPUT_EXTENSIONS


def default_output(src: Path) -> Path:
    """`street.jpg` -> `street.faceless.jpg`, next to the input.

    A video in a container faceless cannot write with exact frame times (MPEG program
    streams: .mpg, .mpeg) becomes `NAME.faceless.mp4`.
    """
    suffix = src.suffix
    if _writable_video(suffix.lower()) is False:
        suffix = ".mp4"
    return src.with_name(f"{src.stem}.{OUTPUT_TAG}{suffix}")


def format_change(src: Path, dst: Path) -> str | None:
    """Why `dst` has another container than `src`, where default_output chose it."""
    if _writable_video(src.suffix.lower()) is False and dst.suffix.lower() == ".mp4":
        return (f"written as MP4: faceless cannot write {src.suffix} video (MPEG program "
                "streams cannot keep exact frame times)")
    return None


def shown(path: Path) -> Path:
    """The path to name in messages: the final output for a temporary name of atomic_output."""
    m = _TEMPORARY.fullmatch(path.name)
    if m is None or not m["name"].endswith(m["suffix"] or ""):
        return path
    return path.with_name(m["name"])


def _check_format(src: Path, dst: Path) -> None:
    """Refuse, before any work, an output suffix that cannot hold what `src` becomes."""
    from faceless.media.image import IMAGE_EXTENSIONS, WRITE_EXTENSIONS
    from faceless.media.video.codec import OUTPUT_EXTENSIONS

    kind = src.suffix.lower()
    suffix = dst.suffix.lower()
    if kind in IMAGE_EXTENSIONS:
        allowed, what = WRITE_EXTENSIONS, "an image"
        like = src.suffix if kind in WRITE_EXTENSIONS else ".png"
    elif _writable_video(kind) is not None:
        allowed, what = OUTPUT_EXTENSIONS, "a video"
        like = src.suffix if kind in OUTPUT_EXTENSIONS else ".mp4"
    else:
        return  # not media: the reader says so
    if suffix in allowed:
        return
    if not suffix:
        raise MediaWriteError(
            f"{dst}: the output has no suffix, so faceless cannot tell which format to write. "
            f"For a folder, end it with a slash ({dst}/) or create it first; for a file, add "
            f"a suffix, e.g. "
            f"{dst}{like}")
    reason = (" (MPEG program streams cannot keep exact frame times)"
              if _writable_video(suffix) is False else "")
    raise MediaWriteError(
        f"{dst}: faceless cannot write {what} as {suffix}{reason}; use "
        f"{dst.with_suffix(like)} instead, or another of {', '.join(sorted(allowed))}")


def special_file(path: Path) -> str | None:
    """What `path` is when it exists but is no regular file or folder faceless may read
    (a FIFO would block a reader, a device never end, a looping link never resolve), as a
    phrase for a message; None for a regular file, a folder, or nothing there at all."""
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "a symbolic link that loops back on itself"
        if os.path.islink(path):
            return "a symbolic link to nothing (its target is missing)"
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def not_regular(path: Path) -> MediaReadError | None:
    """The error for an input that is a pipe, device, socket or broken link, else None."""
    what = special_file(path)
    if what is None:
        return None
    return MediaReadError(f"{path}: {what}, not a media file; faceless reads only regular "
                          "files, so it is skipped; give the file itself")


def is_output_name(path: Path) -> bool:
    """True for names faceless writes, so a folder run does not re-process its own outputs."""
    return f".{OUTPUT_TAG}." in path.name or path.name.endswith(".plan.json")


def check_paths(src: Path, dst: Path, overwrite: bool) -> None:
    """Refuse to write over an input, or over an existing output unless asked to."""
    special = not_regular(src)
    if special is not None:
        raise special
    if not src.exists():
        raise MediaReadError(f"{src}: no such file; check the path")
    if dst.exists() and dst.resolve() == src.resolve():
        raise OutputExistsError(f"{dst}: the output path is the input itself; "
                                "faceless never overwrites an input, choose another output")
    if dst.exists() and not overwrite:
        raise OutputExistsError(f"{dst}: output exists; pass --overwrite to replace it")
    if dst.exists() and dst.is_dir():
        raise OutputExistsError(f"{dst}: output path is a folder")
    _check_format(src, dst)


@contextlib.contextmanager
def atomic_output(dst: Path) -> Iterator[Path]:
    """Yield a temporary path beside `dst` (same suffix); rename it to `dst` only on success.

    On any exception the temporary file is removed, so a failed item leaves nothing behind.
    A faceless error that names the temporary file is given `dst`'s name instead: users never
    see the temporary name.
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
        try:
            yield tmp
        except FacelessError as err:
            text = str(err)
            if tmp.name in text and len(err.args) == 1:
                err.args = (text.replace(str(tmp), str(dst)).replace(tmp.name, dst.name),)
            raise
        try:
            os.replace(tmp, dst)
        except OSError as err:
            raise MediaWriteError(f"{dst}: cannot move the finished output into place "
                                  f"({err.strerror}); check that the folder is still "
                                  "writable and run again") from err
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError as err:
            # The folder turned read-only or vanished meanwhile: the error that brought us
            # here is the one to report; a hidden temporary name is all that may stay.
            log.warning("%s: could not remove the temporary file %s (%s)", dst, tmp.name,
                        err.strerror or err)
