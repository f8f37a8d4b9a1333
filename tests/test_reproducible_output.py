"""The same frames encode to the same bytes in every process (an audit trail compares hashes)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from videogen import make_video

_WRITE = """
import sys
from pathlib import Path
from faceless.media.video import VideoOptions, VideoWriter, iter_frames, probe_video
src, out = Path(sys.argv[1]), Path(sys.argv[2])
bframes = None if sys.argv[3] == "own" else int(sys.argv[3])
with VideoWriter(out, probe_video(src), VideoOptions(bframes=bframes)) as writer:
    for frame in iter_frames(src, yuv=True):
        writer.write(frame.image, frame.ref, source=frame.yuv, changed=[])
"""


@pytest.mark.parametrize("bframes", ["0", "own"])
def test_two_processes_write_the_same_bytes(tmp_path: Path, bframes: str) -> None:
    """The output does not depend on what the heap holds. x264's AVX-512 MB-tree code reads
    memory it never wrote on rows that are not a multiple of 8 macroblocks (this clip is 6
    wide). glibc fills new heap memory with MALLOC_PERTURB_'s pattern: each process gets
    different garbage (elsewhere the variable is ignored, and on CPUs without AVX-512 the test
    cannot fail). The fault shows with the presets' own B-frames (`--preset`); faceless's
    default has none, and both are checked."""
    src = make_video(tmp_path / "src.mp4", 40, size=(96, 64))
    digests = []
    for perturb in ("85", "170"):
        out = tmp_path / f"out-{perturb}.mp4"
        env = {**os.environ, "MALLOC_PERTURB_": perturb}
        subprocess.run([sys.executable, "-c", _WRITE, str(src), str(out), bframes], env=env,
                       check=True, timeout=120)
        digests.append(hashlib.sha256(out.read_bytes()).hexdigest())
    assert digests[0] == digests[1]
