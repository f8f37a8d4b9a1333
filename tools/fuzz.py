"""Fuzz faceless's readers and its run with damaged media: a seeded mutator over generated files.

Makes small valid seeds (JPEG, PNG, MP4, MKV, WebM), mutates them (truncation, bit flips,
header edits, zeroed, repeated and swapped spans) and checks faceless's promise on each
mutant: a correct result, or exactly one faceless error that names the file; never another
exception, a crash or a hang. `--run` also passes the mutants through `faceless run` as one
folder (a real subprocess): each item gets an output or one error line, never both.

    python tools/fuzz.py --count 5000 --seed 1 --run --keep /tmp/fuzz

A violation is printed with the mutant's name (kept with --keep) and the script exits 1.
The test suite runs a few hundred mutants of the same mutator (tests/test_fuzz.py).
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import random
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from faceless.core.errors import FacelessError
from faceless.media.image import IMAGE_EXTENSIONS, read_image
from faceless.media.video import iter_frames, probe_video
from faceless.samples import astronaut_path

SEED_SUFFIXES = (".jpg", ".png", ".mp4", ".mkv", ".webm")
_CODECS = {".mp4": "libx264", ".mkv": "libx264", ".webm": "libvpx-vp9"}


def _picture(w: int, h: int, shift: int = 0) -> np.ndarray:
    """A face on a patterned background (so decoders have real work and detectors a face)."""
    y, x = np.mgrid[0:h, 0:w]
    canvas = np.stack([(x * 4 + shift) % 256, (y * 4) % 256, ((x + y) * 2) % 256],
                      axis=2).astype(np.uint8)
    side = min(w, h) * 3 // 4
    face = np.asarray(Image.open(astronaut_path()).convert("RGB").resize((side, side)))
    canvas[4:4 + side, 8 + shift % 8:8 + shift % 8 + side] = face
    return canvas


def make_seeds(folder: Path) -> list[Path]:
    """One small valid file per seed format in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    seeds = []
    still = _picture(128, 96)
    for suffix in (".jpg", ".png"):
        path = folder / f"seed{suffix}"
        Image.fromarray(still).save(path, quality=90)
        seeds.append(path)
    for suffix, codec in _CODECS.items():
        path = folder / f"seed{suffix}"
        with av.open(str(path), mode="w") as container:
            stream = container.add_stream(codec, rate=10)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            stream.codec_context.time_base = Fraction(1, 10)
            for i in range(8):
                frame = av.VideoFrame.from_ndarray(_picture(64, 48, i * 3), format="rgb24")
                frame.pts = i
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
        seeds.append(path)
    return seeds


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[:rng.randrange(1, len(data))]


def _flip_bits(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice((1, 2, 4, 8, 32))):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def _header_edit(data: bytes, rng: random.Random) -> bytes:
    """Overwrite a few bytes near the start, where sizes, counts and offsets live."""
    out = bytearray(data)
    for _ in range(rng.randrange(1, 5)):
        i = rng.randrange(min(len(out), 256))
        value = rng.choice((0x00, 0xFF, 0x7F, 0x80, rng.randrange(256)))
        for j in range(i, min(len(out), i + rng.choice((1, 2, 4)))):
            out[j] = value
    return bytes(out)


def _zero_span(data: bytes, rng: random.Random) -> bytes:
    i = rng.randrange(len(data))
    n = rng.randrange(1, max(2, len(data) // 8))
    return data[:i] + bytes(min(n, len(data) - i)) + data[i + n:]


def _repeat_span(data: bytes, rng: random.Random) -> bytes:
    i = rng.randrange(len(data))
    n = rng.randrange(1, max(2, len(data) // 8))
    return data[:i + n] + data[i:i + n] + data[i + n:]


def _swap_spans(data: bytes, rng: random.Random) -> bytes:
    a, b = sorted(rng.randrange(len(data)) for _ in range(2))
    n = min(rng.randrange(1, 512), b - a)
    if n <= 0:
        return _flip_bits(data, rng)
    return data[:a] + data[b:b + n] + data[a + n:b] + data[a:a + n] + data[b + n:]


MUTATIONS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "truncate": _truncate, "flip": _flip_bits, "header": _header_edit, "zero": _zero_span,
    "repeat": _repeat_span, "swap": _swap_spans,
}


def mutants(seeds: list[Path], count: int, seed: int, folder: Path) -> Iterator[tuple[Path, str]]:
    """`count` mutants written to `folder`, round-robin over `seeds`: (path, how made)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    datas = [(s.suffix, s.read_bytes()) for s in seeds]
    for n in range(count):
        suffix, data = datas[n % len(datas)]
        ops = rng.sample(sorted(MUTATIONS), rng.choice((1, 1, 2)))
        for op in ops:
            data = MUTATIONS[op](data, rng) or data[:1]
        path = folder / f"m{n:05d}-{'+'.join(ops)}{suffix}"
        path.write_bytes(data)
        yield path, "+".join(ops)


@dataclass(frozen=True)
class Verdict:
    """How a reader took a mutant: ok, a faceless error (its message), or a violation."""

    status: str  # "ok", "error" or "violation"
    detail: str = ""


def read_mutant(path: Path) -> Verdict:
    """Read one mutant the way faceless reads its inputs, and judge the outcome."""
    try:
        if path.suffix.lower() in IMAGE_EXTENSIONS:
            img = read_image(path)
            shape = img.pixels.shape
            if img.pixels.dtype != np.uint8 or len(shape) != 3 or shape[2] != 3:
                return Verdict("violation", f"image decoded as {img.pixels.dtype}{shape}")
            return Verdict("ok")
        info = probe_video(path)
        for n, vf in enumerate(iter_frames(path, yuv=True)):
            if vf.image.shape != (info.height, info.width, 3):
                return Verdict("violation", f"frame {n} is {vf.image.shape}, probe said "
                                            f"{info.width}x{info.height}")
        return Verdict("ok")
    except FacelessError as err:
        text = str(err)
        if str(path) not in text or "\n" in text.strip():
            return Verdict("violation", f"the error does not name the file in one line: {text!r}")
        return Verdict("error", text)
    except Exception as err:  # the promise: nothing but faceless's own errors
        return Verdict("violation", f"{type(err).__name__}: {err}")


def check_run(folder: Path, out: Path, cmd: list[str] | None = None) -> list[str]:
    """Run faceless over a folder of mutants (a subprocess); the promise's violations."""
    cmd = cmd or [sys.executable, "-m", "faceless"]
    r = subprocess.run([*cmd, "run", str(folder), "-o", str(out), "--json"],
                       capture_output=True, text=True)
    return run_violations(r.returncode, r.stdout, r.stderr, folder, out)


def run_violations(code: int, stdout: str, stderr: str, folder: Path, out: Path) -> list[str]:
    """What breaks the promise in a folder run's exit code, JSON, error lines and outputs."""
    bad = []
    if code not in (0, 1):
        bad.append(f"exit code {code}: {stderr[-2000:]}")
        return bad
    if "Traceback" in stderr:
        bad.append(f"a traceback: {stderr[-2000:]}")
    doc = json.loads(stdout)
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    for item in doc["items"]:
        src = Path(item["input"])
        dst = out / src.relative_to(folder)
        if item["ok"]:
            if not dst.is_file():
                bad.append(f"{src.name}: ok but no output")
        else:
            if dst.exists():
                bad.append(f"{src.name}: failed but an output exists")
            mine = [e for e in errors if str(src) in e]
            if len(mine) != 1:
                bad.append(f"{src.name}: {len(mine)} error lines, not 1")
    left = [p.name for p in out.rglob("*") if ".tmp-" in p.name]
    if left:
        bad.append(f"temporary files left: {left}")
    return bad


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=2000, help="mutants (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    p.add_argument("--run", action="store_true",
                   help="also pass the mutants through `faceless run` (slower)")
    p.add_argument("--keep", type=Path, help="keep the mutants in this folder")
    a = p.parse_args(argv)
    faulthandler.dump_traceback_later(3600, exit=True)  # a hang shows where it hangs
    work = Path(tempfile.mkdtemp(prefix="faceless-fuzz-"))
    folder = a.keep or work / "mutants"
    seen: Counter[str] = Counter()
    bad: list[str] = []
    try:
        seeds = make_seeds(work / "seeds")
        for path, how in mutants(seeds, a.count, a.seed, folder):
            v = read_mutant(path)
            seen[f"{path.suffix} {v.status}"] += 1
            if v.status == "violation":
                bad.append(f"{path.name} ({how}): {v.detail}")
                print(f"VIOLATION {path.name}: {v.detail}", flush=True)
        if a.run:
            bad += check_run(folder, work / "out")
    finally:
        if a.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    for key in sorted(seen):
        print(f"{key}: {seen[key]}")
    print(f"{a.count} mutants, seed {a.seed}: {len(bad)} violation(s)")
    for line in bad:
        print(f"  {line}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
