"""One malloc heap for the whole process, so that buffers freed by one thread serve the next.

glibc gives each thread that allocates at the same time as another its own heap (arena), and
keeps the freed blocks of each: a video's look-ahead threads each run large network passes, so
every thread's heap grows to a pass's peak, and the process holds several. One arena caps
that at about one pass's peak; the threads spend most of their time inside the networks,
not in malloc, so sharing its lock costs no measurable time (docs/decisions/0044).
Process-wide, so only entry points call it (the CLI, batch workers), before threads start.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)


def one_heap() -> bool:
    """Ask glibc for a single malloc arena; False where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return False
    if not hasattr(libc, "gnu_get_libc_version"):  # musl and others: no arenas to cap
        return False
    mallopt = libc.mallopt
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, 1))
