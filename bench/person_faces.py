"""Faces on people: leaked face-frames with and without closer face looks at people's heads.

Each clip is a moving camera (a pan with a slow zoom and a hand-held wobble) over a real
MOT17 street frame, with real faces (../shared/data/faces, as bench/temporal.py picks them)
pasted on the heads of real pedestrians: each face is placed from its pedestrian's MOT box
(centred on the box, its side a share of the box's width, near the box's top), so faces
are where a person detector finds people. Every frame's face boxes are exact (the camera's
transform of the pasted boxes). faceless runs on each clip in-process with a magenta fill,
and a face-frame leaks when < 70% of its box changed in the output (bench/temporal.py's
pixel rule, as bench/speed.py judges).

    python bench/person_faces.py --seeds 11,12,13,14 --sizes 720,1080
    python bench/person_faces.py --seeds 1,2 --frames 48 --temporal  # + temporal's HD clips

Configurations: today's default (face, plate; no person search), `--bodycam` (and heads)
with and without the head looks (`PersonOptions.face_looks`), `--hide face,plate,person`
with and without, and the default with `PersonOptions(guide=True)` (persons searched every
6th frame for the looks, never hidden: what the looks add to the face search).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from faceless.analyze import Analyzer
from faceless.anonymize.operators import Operator, OperatorSpec
from faceless.api import anonymize_file
from faceless.core.types import Kind
from faceless.options import Options, mode_options

sys.path.insert(0, str(Path(__file__).resolve().parent))
from persons import MOT, machine
from temporal import (
    FPS,
    HD_CLIPS,
    HD_MIN_SIDE,
    Score,
    Sprite,
    generate,
    pick_sprites,
    resize_sprite,
    score_pixels,
    write_video,
)

MAGENTA = OperatorSpec(Operator.FILL, color=(255, 0, 255))
SEQS = ("MOT17-02-FRCNN", "MOT17-04-FRCNN")
FACE_SHARE = (0.32, 0.45)  # a face's side as a share of its pedestrian box's width
MIN_VISIBILITY = 0.7  # MOT's visibility of a pedestrian that gets a face
MIN_WIDTH = 28.0  # px, pedestrians narrower than this get no face (their face < ~10 px)


# --------------------------------------------------------------------------- clips


def pedestrians(seq: str, frame: int) -> np.ndarray:
    """(N, 5) x1, y1, x2, y2, visibility of the pedestrians MOT counts in one frame."""
    rows = np.loadtxt(MOT / seq / "gt" / "gt.txt", delimiter=",").reshape(-1, 9)
    rows = rows[(rows[:, 0] == frame) & (rows[:, 6] == 1) & (rows[:, 7] == 1)]
    x, y = rows[:, 2] - 1, rows[:, 3] - 1  # MOT boxes are 1-based
    return np.stack([x, y, x + rows[:, 4], y + rows[:, 5], rows[:, 8]], 1)


def tight(sp: Sprite) -> Sprite:
    """The sprite with its feather pulled in to the face and hair: opaque over the face box,
    fading out by 1.6 face sides, so little of another photo's shoulders lands on a body."""
    ch, cw = sp.rgb.shape[:2]
    x1, y1, x2, y2 = sp.box
    fcx, fcy, rx, ry = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, (y2 - y1) / 2
    yy, xx = np.mgrid[0:ch, 0:cw].astype(np.float32) + 0.5
    r = np.sqrt(((xx - fcx) / rx) ** 2 + ((yy - fcy) / ry) ** 2)
    t = np.clip((1.6 - r) / (1.6 - 1.15), 0.0, 1.0)
    return Sprite(sp.rgb, np.minimum(sp.alpha, t * t * (3 - 2 * t)).astype(np.float32),
                  sp.box, sp.label)


@dataclass(frozen=True)
class Clip:
    video: Path
    gt: dict[str, Any]


def make_clip(seed: int, size: tuple[int, int], frames: int, out: Path,
              faces: int = 10) -> Clip:
    """One clip: a camera moving over a MOT17 frame whose pedestrians carry real faces."""
    rng = np.random.default_rng([seed, 17])
    seq = SEQS[seed % len(SEQS)]
    n_img = len(list((MOT / seq / "img1").glob("*.jpg")))
    fno = int(rng.integers(1, n_img + 1))
    src = cv2.cvtColor(cv2.imread(str(MOT / seq / "img1" / f"{fno:06d}.jpg")),
                       cv2.COLOR_BGR2RGB).astype(np.float32)
    sh, sw = src.shape[:2]
    peds = pedestrians(seq, fno)
    ok = np.flatnonzero((peds[:, 4] >= MIN_VISIBILITY) & (peds[:, 2] - peds[:, 0] >= MIN_WIDTH))
    chosen = rng.permutation(ok)[:faces]
    sprites = [tight(s) for s in pick_sprites(len(chosen), rng, HD_MIN_SIDE)]
    placed: list[tuple[float, float, float, float]] = []
    for pi, sp in zip(chosen, sprites, strict=True):
        x1, y1, x2, _y2, _v = peds[pi]
        side = float(rng.uniform(*FACE_SHARE)) * (x2 - x1)
        cx = (x1 + x2) / 2 + float(rng.uniform(-0.05, 0.05)) * (x2 - x1)
        cy = y1 + side * float(rng.uniform(0.55, 0.7))  # a face's centre below the crown
        rgb, alpha, kx, ky = resize_sprite(sp.rgb, sp.alpha, side / sp.side)
        fx1, fy1, fx2, fy2 = sp.box
        x0, y0 = round(cx - (fx1 + fx2) / 2 * kx), round(cy - (fy1 + fy2) / 2 * ky)
        ah, aw = alpha.shape
        dx1, dy1, dx2, dy2 = max(0, x0), max(0, y0), min(sw, x0 + aw), min(sh, y0 + ah)
        a = alpha[dy1 - y0:dy2 - y0, dx1 - x0:dx2 - x0, None]
        src[dy1:dy2, dx1:dx2] = src[dy1:dy2, dx1:dx2] * (1 - a) + rgb[
            dy1 - y0:dy2 - y0, dx1 - x0:dx2 - x0] * a
        placed.append((x0 + fx1 * kx, y0 + fy1 * ky, x0 + fx2 * kx, y0 + fy2 * ky))
    # The camera: a window of the source (zoom z: its width over the source's) moving from
    # one place to another, zooming slowly, with a hand-held wobble.
    z0, z1 = rng.uniform(0.5, 0.85, 2)
    ow, oh = size
    centres = []
    for z in (z0, z1):
        hw, hh = z * sw / 2, z * sw * oh / ow / 2
        centres.append((rng.uniform(hw, sw - hw), rng.uniform(hh, sh - hh)))
    wob = rng.uniform(4, 12)
    images, records = [], []
    boxes = np.array(placed, np.float64).reshape(-1, 4)
    for t in range(frames):
        u = t / max(1, frames - 1)
        z = z0 + (z1 - z0) * u
        k = ow / (z * sw)  # output px per source px
        hw, hh = z * sw / 2, z * sw * oh / ow / 2
        cx = centres[0][0] + (centres[1][0] - centres[0][0]) * u + wob * math.sin(t / 3.0)
        cy = centres[0][1] + (centres[1][1] - centres[0][1]) * u + wob * math.cos(t / 4.0)
        cx, cy = float(np.clip(cx, hw, sw - hw)), float(np.clip(cy, hh, sh - hh))
        m = np.array([[k, 0, -(cx - hw) * k], [0, k, -(cy - hh) * k]], np.float64)
        img = cv2.warpAffine(src, m, (ow, oh), flags=cv2.INTER_AREA if k < 1
                             else cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        images.append(np.clip(img + 0.5, 0, 255).astype(np.uint8))
        b = boxes * k + np.array([m[0, 2], m[1, 2], m[0, 2], m[1, 2]])
        for fi, (x1, y1, x2, y2) in enumerate(b.tolist()):
            inside = (max(0.0, min(x2, ow) - max(x1, 0.0)) * max(0.0, min(y2, oh) - max(y1, 0.0))
                      / max((x2 - x1) * (y2 - y1), 1e-6))
            records.append({"frame": t, "face": fi, "x1": round(x1, 2), "y1": round(y1, 2),
                            "x2": round(x2, 2), "y2": round(y2, 2), "visible": inside >= 0.5,
                            "hidden": 0.0, "size": round(max(x2 - x1, y2 - y1), 1),
                            "blur": 0.0, "contrast": 1.0})
    name = f"people-{seed}-{oh}"
    write_video(out / f"{name}.mp4", images)
    gt = {"clip": name, "width": ow, "height": oh, "fps": FPS, "frames": frames, "seed": seed,
          "source": f"{seq} frame {fno}", "boxes": records}
    (out / f"{name}.json").write_text(json.dumps(gt))
    return Clip(out / f"{name}.mp4", gt)


# --------------------------------------------------------------------------- configurations


def configs() -> dict[str, Options]:
    base = replace(Options(), operator=MAGENTA, overwrite=True)
    body = replace(mode_options("bodycam"), operator=MAGENTA, overwrite=True)
    person = replace(base, hide=base.hide | {Kind.PERSON})

    def looks(o: Options, n: int) -> Options:
        return replace(o, person=replace(o.person, face_looks=n))

    return {
        "today's default (face, plate)": base,
        "`--bodycam`, no head looks": looks(body, 0),
        "`--bodycam`, head looks": looks(body, 16),
        "`--hide face,plate,person`, no head looks": looks(person, 0),
        "`--hide face,plate,person`, head looks": looks(person, 16),
        "default, persons searched to guide head looks":
            replace(base, person=replace(base.person, face_looks=16, guide=True)),
    }


def run(clip: Clip, name: str, options: Options, work: Path) -> tuple[Score, float]:
    dst = work / f"{clip.video.stem}.{abs(hash(name)) % 10**8}.mp4"
    analyzer = Analyzer(options)
    analyzer.setup()
    t0 = time.monotonic()
    anonymize_file(clip.video, dst, analyzer=analyzer)
    took = time.monotonic() - t0
    return score_pixels(clip.gt, clip.video, dst, clip.gt["clip"]), took


def temporal_clips(seed: int, frames: int, work: Path) -> list[Clip]:
    """bench/temporal.py's HD clips (faces pasted over footage, no bodies under them)."""
    out = []
    for p in generate(list(HD_CLIPS), frames, seed, work):
        gt = json.loads(p.read_text())
        out.append(Clip(p.with_suffix(".mp4"), gt))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="11,12,13,14")
    ap.add_argument("--sizes", default="720,1080")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--only", default="", help="comma-separated substrings of configurations")
    ap.add_argument("--temporal", action="store_true",
                    help="also bench/temporal.py's HD clips (faces without bodies)")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    seeds = [int(s) for s in a.seeds.split(",")]
    sizes = {720: (1280, 720), 1080: (1920, 1080)}
    chosen = {k: v for k, v in configs().items()
              if not a.only or any(s in k for s in a.only.split(","))}
    rows: dict[tuple[str, str], list[tuple[Score, float, int]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sets: dict[str, list[Clip]] = {}
        for s in seeds:
            for px in (int(x) for x in a.sizes.split(",") if x):
                sets.setdefault(f"people {px}p", []).append(
                    make_clip(s, sizes[px], a.frames, work))
            if a.temporal:
                sets.setdefault("temporal HD", []).extend(temporal_clips(s, a.frames, work))
        for set_name, clips in sets.items():
            for name, opts in chosen.items():
                for clip in clips:
                    sc, took = run(clip, name, opts, work)
                    rows.setdefault((set_name, name), []).append((sc, took, clip.gt["frames"]))
                    print(f"{clip.gt['clip']} {name}: {sc.leaked}/{sc.face_frames} leaked, "
                          f"{took / clip.gt['frames']:.3f} s/frame, load "
                          f"{os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
    lines = ["| clips | configuration | leaked face-frames | faces that leak | "
             "longest leak | share of frame changed | s per frame |",
             "|---|---|---|---|---|---|---|"]
    out = []
    for (set_name, name), res in rows.items():
        total = Score()
        for sc, _t, _n in res:
            total.add(sc)
        spf = sum(t for _s, t, _n in res) / sum(n for _s, _t, n in res)
        lines.append(f"| {set_name} | {name} | {total.leaked}/{total.face_frames} "
                     f"({total.leaked / max(total.face_frames, 1):.1%}) | "
                     f"{total.leaking_faces}/{total.faces} | {total.longest} | "
                     f"{total.over_redaction:.1%} | {spf:.2f} |")
        out.append({"clips": set_name, "config": name, "leaked": total.leaked,
                    "face_frames": total.face_frames, "per_seed": [s.leaked for s, _, _ in res],
                    "s_per_frame": spf})
    text = "\n".join(lines) + (f"\n\nSeeds {a.seeds}, {a.frames} frames a clip; "
                               f"{machine()}; load average {os.getloadavg()}.\n")
    print(text)
    if a.json:
        a.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
