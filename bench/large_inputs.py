"""Large inputs: seconds and peak memory of hiding a 4K frame, an 8K frame and phone photos.

Each size runs `faceless.api.anonymize_image` in its own process on a generated frame (a
noisy grey background with the sample astronaut's head pasted at four sizes, from 60 px
faces to one taller than a tile of the large-frame path) and reports the wall seconds, the
process's peak resident memory, and how many of the planted faces came out hidden (over 80%
of the face's pixels changed). Prints a markdown table.

    python bench/large_inputs.py                          # 4K, 8K, 48 MP; faces and plates
    python bench/large_inputs.py --sizes 12000x9000 --hide face
    python bench/large_inputs.py --whole                  # large_pixels=0: the untiled pass
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SIZES = ("3840x2160", "7680x4320", "8000x6000")

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {tests!r})
import cv2, numpy as np
from dataclasses import replace
from faceless.api import anonymize_image
from faceless.options import Options
from mediagen import FACE_512, astronaut, changed_fraction

w, h, hide, whole = {w}, {h}, {hide!r}, {whole}
HEAD = (131, 0, 321, 240)
rng = np.random.default_rng(0)
frame = rng.integers(60, 140, (h, w, 3), np.uint8)
head = astronaut()[HEAD[1]:HEAD[3], HEAD[0]:HEAD[2]]
faces = []
for frac, fx, fy in [(0.01, 0.04, 0.05), (0.04, 0.12, 0.4), (0.12, 0.2, 0.07), (0.38, 0.54, 0.25)]:
    k = frac * h / (FACE_512[3] - FACE_512[1])
    x, y = round(fx * w), round(fy * h)
    hw, hh = round((HEAD[2] - HEAD[0]) * k), round((HEAD[3] - HEAD[1]) * k)
    frame[y:y + hh, x:x + hw] = cv2.resize(head, (hw, hh), interpolation=cv2.INTER_AREA
                                           if k < 1 else cv2.INTER_CUBIC)
    faces.append((x + (FACE_512[0] - HEAD[0]) * k, y + (FACE_512[1] - HEAD[1]) * k,
                  x + (FACE_512[2] - HEAD[0]) * k, y + (FACE_512[3] - HEAD[1]) * k))
opts = Options(hide=frozenset(hide.split(",")))
if whole:
    opts = replace(opts, face=replace(opts.face, large_pixels=0))
t = time.perf_counter()
try:
    out = anonymize_image(frame, opts)
    err = None
except Exception as e:  # reported in the table
    out, err = None, str(e)[:80]
sec = time.perf_counter() - t
hidden = None if out is None else [round(f[3] - f[1]) for f in faces
                                    if changed_fraction(frame, out, f) > 0.8]
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(dict(sec=sec, rss=rss, hidden=hidden, planted=len(faces), err=err,
                 sizes=[round(f[3] - f[1]) for f in faces])))
"""


def run(size: str, hide: str, whole: bool, limit_mb: int) -> dict:
    w, h = (int(v) for v in size.lower().split("x"))
    code = CHILD.format(tests=str(ROOT / "tests"), w=w, h=h, hide=hide, whole=whole)
    pre = None
    if limit_mb:
        import resource

        def pre() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (limit_mb << 20, limit_mb << 20))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, preexec_fn=pre, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode or not lines:
        return dict(sec=float("nan"), rss=float("nan"), hidden=None, planted=4, sizes=[],
                    err=(proc.stderr.strip().splitlines() or ["?"])[-1][:80])
    res: dict = json.loads(lines[-1])
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default=",".join(DEFAULT_SIZES), help="WxH,WxH,...")
    ap.add_argument("--hide", default="face,plate")
    ap.add_argument("--whole", action="store_true",
                    help="large_pixels=0: the whole-frame pass of before, for comparison")
    ap.add_argument("--limit-mb", type=int, default=0,
                    help="address-space limit of each run (RLIMIT_AS), 0 = none")
    a = ap.parse_args()
    from speed import machine  # the sibling script: CPU, cores and versions in one line

    print(f"hide={a.hide}, {'whole frame' if a.whole else 'default'}; {machine()}\n")
    print("| size | megapixels | seconds | peak RSS MB | faces hidden / planted "
          "| missed (face height) | error |")
    print("|---|---|---|---|---|---|---|")
    for size in a.sizes.split(","):
        w, h = (int(v) for v in size.lower().split("x"))
        r = run(size, a.hide, a.whole, a.limit_mb)
        hidden = "-" if r["hidden"] is None else len(r["hidden"])
        missed = "" if r["hidden"] is None else ", ".join(
            f"{s} px" for s in r["sizes"] if s not in r["hidden"])
        print(f"| {w}x{h} | {w * h / 1e6:.1f} | {r['sec']:.1f} | {r['rss']:.0f} | "
              f"{hidden} / {r['planted']} | {missed} | {r['err'] or ''} |", flush=True)


if __name__ == "__main__":
    main()
