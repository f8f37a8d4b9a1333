"""Plate leaks over time: real plates moved over real video with exact per-frame boxes.

In video, plates are searched only on every `text_every`-th frame and tracking carries them
between searches (gap filling, pre/post extension, `sparse_link`, the backward plate
back-hold). This measures what that costs: labelled plates of the openalpr (us, eu, br) and
CCPD sets are cut out with their car around them (the plate's box grown by 1.5 plate widths
left and right and 2 plate heights above and below, as bench/plates_video_recall.py does),
feathered into real footage (a slow pan over a MOT17 street, a static MOT17 square) at
1280x720 and 1920x1080, 25 fps, and moved along four kinds of path:

- drift: a parked car seen from a walking camera: 0.5-3 px/frame (at 720p), a walking bob,
  the plate growing or shrinking by up to ~25% (12-40 px high);
- cross: a car crossing the view at 6-20 px/frame, entering at one side (and leaving at the
  other when it is fast enough), 14-32 px high;
- approach: a dashcam passing a parked car: the plate leaves the vanishing point at 11-14 px
  and grows (1/distance) to 32-40 px while it accelerates out of a side of the frame;
- overtake: a car overtaking the dashcam: the same in reverse (enters at a side, large and
  fast, and shrinks towards the vanishing point).

Each plate's box is known exactly in every frame. faceless then runs in process with
`hide={plate}` (faces off) on each clip, decoded from its H.264 file, once per mode: the
defaults and every `--variant`; each frame's plan is judged by the pixels its operator replaces
(`redaction_mask`): an in-view plate is covered in a frame when >= 70% of its box (the part
inside the frame) is masked. A plate is in view when >= 50% of its box lies inside the frame
and less than half of it is hidden behind another pasted car.

    python bench/plates_temporal.py                     # 4 clips x 150 frames, defaults only
    python bench/plates_temporal.py --variant te6:text_every=6 --variant te12:text_every=12 \\
        --variant noback:back_hold=0 --markdown /tmp/plates-temporal.md

A variant is NAME:key=value,... with `text_every`, `track=none` (frame by frame: every frame
searched), TrackOptions fields and PlateOptions fields (a PlateOptions change runs the detector
again). The plate detector's output depends on the frame alone, so it is computed once per frame
and served from a cache to every mode (`--no-cache` runs it every time; `--det-cache FILE` keeps
it between runs). A mode's CPU seconds are what its run would cost uncached: the CPU time of its
own run (decoding, tracking, back-hold) with every cached plate search charged at what that
search cost when it was computed.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import os
import pickle
import sys
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from faceless.analyze import Analyzer, VideoAnalysis
from faceless.anonymize.operators import redaction_mask
from faceless.core.types import Detections, Kind, Region
from faceless.detect.base import ScaledDetector
from faceless.detect.plates import PlateDetector, PlateOptions
from faceless.detect.sparse import SparseOptions
from faceless.media.video import iter_frames
from faceless.options import Options
from faceless.track.tracker import Tracker, TrackOptions

sys.path.insert(0, str(Path(__file__).resolve().parent))
from temporal import background, cpu_model, paste_moving, resize_sprite, span, write_video

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data"
PLATES = DATA / "plates"

FPS = 25
COVER = 0.7  # share of a plate box that must be masked (redaction_eval's --cover)
GROW = 0.2  # over-redaction ignores labelled boxes grown this much per side (redaction_eval)
IN_VIEW = 0.5  # share of a plate box that must lie inside the frame for it to count
MIN_SRC_HEIGHT = 16.0  # px: smaller source plates would be enlarged (blurry)
PROBE_HEIGHT = 24.0  # a source plate is used only if faceless finds it still at this height
SHUTTER = (0.05, 0.35)  # exposure as a share of the frame interval (daylight to dusk)
HEIGHT_BINS = (0.0, 16.0, 24.0, 32.0, 1e9)
KINDS = ("drift", "cross", "approach", "overtake")


# --------------------------------------------------------------------------- plate sprites


@dataclass(frozen=True)
class PlateSource:
    """A photo (RGB) and its labelled plate box."""

    image: np.ndarray
    box: tuple[float, float, float, float]
    label: str


@dataclass
class Sprite:
    """A plate with its car around it: RGB (float32), feathered alpha, plate box in crop px."""

    rgb: np.ndarray
    alpha: np.ndarray
    box: tuple[float, float, float, float]
    label: str

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


def plate_sources() -> list[PlateSource]:
    """Every labelled plate of openalpr (us, eu, br) and the CCPD samples."""
    sys.path.insert(0, str(SHARED / "tools"))
    from redaction_eval import load_ccpd, load_openalpr

    samples = load_openalpr(PLATES / "openalpr") + load_ccpd(PLATES / "ccpd-samples")
    out = []
    for s in samples:
        img = cv2.imread(str(s.image))
        if img is None:
            continue
        rel = s.image.relative_to(PLATES)
        out.append(PlateSource(cv2.cvtColor(img, cv2.COLOR_BGR2RGB),
                               tuple(float(v) for v in s.boxes[0]), str(rel)))
    return out


def make_sprite(src: PlateSource) -> Sprite | None:
    """The plate with 1.5 widths left and right and 2 heights above and below (as far as the
    photo reaches), opaque over the plate and a margin, fading out at the crop's border."""
    h, w = src.image.shape[:2]
    x1, y1, x2, y2 = src.box
    x1, y1, x2, y2 = max(0.0, x1), max(0.0, y1), min(float(w), x2), min(float(h), y2)
    bw, bh = x2 - x1, y2 - y1
    if bw < 4 or bh < 4:
        return None
    cx1, cy1 = int(max(0, math.floor(x1 - 1.5 * bw))), int(max(0, math.floor(y1 - 2 * bh)))
    cx2, cy2 = int(min(w, math.ceil(x2 + 1.5 * bw))), int(min(h, math.ceil(y2 + 2 * bh)))
    crop = src.image[cy1:cy2, cx1:cx2].astype(np.float32)
    ch, cw = crop.shape[:2]
    box = (x1 - cx1, y1 - cy1, x2 - cx1, y2 - cy1)
    # Feather over the outer 60% of the margin around the plate on each side (none where the
    # crop ends at the plate), so the plate and what is right around it stay opaque.
    xx = np.arange(cw, dtype=np.float32) + 0.5
    yy = np.arange(ch, dtype=np.float32) + 0.5

    def ramp(u: np.ndarray, lo: float, hi: float, end: float) -> np.ndarray:
        a = np.ones_like(u)
        if lo > 1:
            a = np.minimum(a, np.clip(u / (0.6 * lo), 0, 1))
        if end - hi > 1:
            a = np.minimum(a, np.clip((end - u) / (0.6 * (end - hi)), 0, 1))
        return a * a * (3 - 2 * a)

    alpha = np.outer(ramp(yy, box[1], box[3], ch), ramp(xx, box[0], box[2], cw))
    return Sprite(crop, alpha.astype(np.float32), box, src.label)


def scaled(sp: Sprite, height: float) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
    """The sprite resized so that its plate is `height` px high: RGB, alpha, plate box."""
    rgb, alpha, kx, ky = resize_sprite(sp.rgb, sp.alpha, height / sp.height)
    x1, y1, x2, y2 = sp.box
    return rgb, alpha, (x1 * kx, y1 * ky, x2 * kx, y2 * ky)


def covered(mask: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """Share of the box's pixels (redaction_eval's span, cut to the image) that are masked."""
    h, w = mask.shape
    x1, y1, x2, y2 = span(box, w, h)
    if x2 <= x1 or y2 <= y1:
        return 0.0
    return float(mask[y1:y2, x1:x2].mean())


def pick_sprites(n: int, rng: np.random.Generator, detector: Any = None) -> list[Sprite]:
    """n sprites from distinct source plates that faceless finds still at PROBE_HEIGHT px.

    The benchmark measures what searching less often costs, not still-image recall (see
    bench/plates_video_recall.py), so a plate the detector misses even when still is left out.
    """
    pool = [s for s in plate_sources() if s.box[3] - s.box[1] >= MIN_SRC_HEIGHT]
    det = detector or PlateDetector()
    out: list[Sprite] = []
    for i in rng.permutation(len(pool)):
        sp = make_sprite(pool[int(i)])
        if sp is None:
            continue
        rgb, alpha, box = scaled(sp, PROBE_HEIGHT)
        canvas = np.full((rgb.shape[0] + 64, rgb.shape[1] + 64, 3), 110.0, np.float32)
        canvas[32:-32, 32:-32] = canvas[32:-32, 32:-32] * (1 - alpha[..., None]) \
            + rgb * alpha[..., None]
        image = np.clip(canvas + 0.5, 0, 255).astype(np.uint8)
        found = det.detect(image)
        mask = np.zeros(image.shape[:2], bool)
        for x1, y1, x2, y2 in found.xyxy:
            mask[int(y1):int(np.ceil(y2)), int(x1):int(np.ceil(x2))] = True
        if covered(mask, (box[0] + 32, box[1] + 32, box[2] + 32, box[3] + 32)) >= COVER:
            out.append(sp)
            if len(out) == n:
                return out
    raise RuntimeError(f"only {len(out)} usable plates found, {n} needed")


# --------------------------------------------------------------------------- motion


@dataclass
class PlateTrack:
    """Where one plate is in each frame (its centre and height), and when it is drawn."""

    sprite: Sprite
    path: str
    centre: np.ndarray  # (n, 2)
    height: np.ndarray  # (n,) plate box height, px
    present: np.ndarray  # (n,) bool: drawn in this frame
    shutter: float = 0.3


def _approach(rng: np.random.Generator, n: int, size: tuple[int, int]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A plate leaving the vanishing point, growing as 1/distance, out of a side at the end."""
    w, h = size
    length = int(rng.integers(min(40, n - 1), min(110, n) + 1))
    t0 = int(rng.integers(0, n - length + 1))
    h0, h1 = rng.uniform(11, 14), rng.uniform(32, 40)
    vp = np.array([rng.uniform(0.4, 0.6) * w, rng.uniform(0.4, 0.55) * h])
    side = rng.choice([-1, 1])
    end = np.array([0.5 * w + side * 0.53 * w, rng.uniform(0.6, 0.95) * h])
    tau = np.clip((np.arange(n) - t0) / max(1, length - 1), 0, 1)
    a = 1 - h0 / h1
    height = h0 / (1 - a * tau)
    # Perspective: the offset from the vanishing point grows as the plate (1/distance).
    centre = vp + (height / h1)[:, None] * (end - vp)
    present = (np.arange(n) >= t0) & (np.arange(n) < t0 + length)
    return centre, height, present


def plan_track(rng: np.random.Generator, sprite: Sprite, kind: str, n: int,
               size: tuple[int, int]) -> PlateTrack:
    w, h = size
    k = w / 1280  # speeds and offsets are drawn for 720p and scaled
    t = np.arange(n, dtype=np.float64)
    if kind == "drift":
        h0 = rng.uniform(12, 34)
        h1 = float(np.clip(h0 * rng.uniform(0.8, 1.25), 12, 40))
        height = h0 + (h1 - h0) * t / max(1, n - 1)
        speed = rng.uniform(0.5, 3.0) * k
        ang = rng.uniform(-0.25, 0.25) + (np.pi if rng.random() < 0.5 else 0.0)
        bob = rng.uniform(1, 4) * k * np.sin(2 * np.pi * t / rng.uniform(10, 16)
                                            + rng.uniform(0, 2 * np.pi))
        start = np.array([rng.uniform(0.05, 0.95) * w, rng.uniform(0.3, 0.85) * h])
        centre = start + speed * t[:, None] * np.array([np.cos(ang), np.sin(ang)])
        centre[:, 1] += bob
        present = np.ones(n, bool)
    elif kind == "cross":
        h0 = rng.uniform(14, 32)
        height = h0 * (1 + rng.uniform(-0.1, 0.1) * t / max(1, n - 1))
        speed = rng.uniform(6, 20) * k
        d = rng.choice([-1, 1])
        sw = sprite.rgb.shape[1] * h0 / sprite.height  # the car's width on screen
        x0 = -0.3 * sw if d > 0 else w + 0.3 * sw
        t0 = int(rng.integers(0, max(1, n // 3)))
        y0 = rng.uniform(0.35, 0.85) * h
        centre = np.stack([x0 + d * speed * (t - t0), np.full(n, y0)
                           + rng.uniform(-0.3, 0.3) * k * (t - t0)], axis=1)
        present = t >= t0
    elif kind in ("approach", "overtake"):
        centre, height, present = _approach(rng, n, size)
        if kind == "overtake":
            centre, height, present = centre[::-1].copy(), height[::-1].copy(), present[::-1].copy()
    else:
        raise ValueError(f"unknown path {kind!r}")
    return PlateTrack(sprite, kind, centre, height, present, float(rng.uniform(*SHUTTER)))


def plate_box(tr: PlateTrack, t: int) -> tuple[float, float, float, float]:
    """Nominal plate box (before pixel placement) in frame t."""
    bw = (tr.sprite.box[2] - tr.sprite.box[0]) * tr.height[t] / tr.sprite.height
    cx, cy = tr.centre[t]
    return cx - bw / 2, cy - tr.height[t] / 2, cx + bw / 2, cy + tr.height[t] / 2


# --------------------------------------------------------------------------- rendering


def render_clip(bg: list[np.ndarray], plates: list[PlateTrack]
                ) -> tuple[list[np.ndarray], list[dict[str, Any]]]:
    """Composite every frame; return the frames and one record per drawn plate and frame.

    A record's box is where the plate's pixels are (the sprite's plate box after resizing and
    placing at a whole pixel); `inside` is the share of it inside the frame, `hidden` the share
    of its in-frame part behind cars drawn later (nearer: larger plates are drawn last).
    """
    h, w = bg[0].shape[:2]
    frames, records = [], []
    for t in range(len(bg)):
        frame = bg[t].astype(np.float32)
        placed = []
        order = sorted((i for i, p in enumerate(plates) if p.present[t]),
                       key=lambda i: plates[i].height[t])
        for pi in order:
            tr = plates[pi]
            rgb, alpha, (bx1, by1, bx2, by2) = scaled(tr.sprite, float(tr.height[t]))
            cx, cy = tr.centre[t]
            x0, y0 = round(cx - (bx1 + bx2) / 2), round(cy - (by1 + by2) / 2)
            box = (x0 + bx1, y0 + by1, x0 + bx2, y0 + by2)
            if t > 0 and tr.present[t - 1]:
                v = tr.centre[t] - tr.centre[t - 1]
            elif t + 1 < len(bg):
                v = tr.centre[t + 1] - tr.centre[t]
            else:
                v = np.zeros(2)
            x0, y0, alpha, blur = paste_moving(frame, rgb, alpha, x0, y0, v, tr.shutter)
            placed.append((pi, x0, y0, alpha, box, blur))
        frames.append(np.clip(frame + 0.5, 0, 255).astype(np.uint8))
        for pos, (pi, _x0, _y0, _alpha, box, blur) in enumerate(placed):
            area = (box[2] - box[0]) * (box[3] - box[1])
            ix = max(0.0, min(box[2], w) - max(box[0], 0))
            iy = max(0.0, min(box[3], h) - max(box[1], 0))
            inside = ix * iy / area
            sx1, sy1, sx2, sy2 = span(box, w, h)
            hidden = np.zeros((max(0, sy2 - sy1), max(0, sx2 - sx1)), bool)
            for _pj, x0, y0, alpha, _b, _bl in placed[pos + 1:]:
                ah, aw = alpha.shape
                ox1, oy1 = max(sx1, x0), max(sy1, y0)
                ox2, oy2 = min(sx2, x0 + aw), min(sy2, y0 + ah)
                if ox2 > ox1 and oy2 > oy1:
                    hidden[oy1 - sy1:oy2 - sy1, ox1 - sx1:ox2 - sx1] |= (
                        alpha[oy1 - y0:oy2 - y0, ox1 - x0:ox2 - x0] > 0.5)
            frac = float(hidden.mean()) if hidden.size else 1.0
            records.append({
                "frame": t, "plate": pi, "x1": round(box[0], 2), "y1": round(box[1], 2),
                "x2": round(box[2], 2), "y2": round(box[3], 2),
                "height": round(box[3] - box[1], 1), "inside": round(inside, 3),
                "hidden": round(frac, 3), "blur": round(blur, 1),
                "visible": inside >= IN_VIEW and frac < 0.5,
            })
    records.sort(key=lambda r: (r["frame"], r["plate"]))
    return frames, records


@dataclass(frozen=True)
class ClipSpec:
    name: str
    background: str  # a background of bench/temporal.py: plaza (a slow pan), square (static)
    size: tuple[int, int]
    paths: tuple[str, ...]  # one per plate


CLIPS = (
    ClipSpec("walk-720", "plaza", (1280, 720), ("drift", "drift", "drift", "cross", "approach")),
    ClipSpec("street-720", "square", (1280, 720), ("drift", "cross", "cross", "overtake",
                                                   "approach")),
    ClipSpec("walk-1080", "plaza", (1920, 1080), ("drift", "drift", "cross", "approach",
                                                  "overtake")),
    ClipSpec("street-1080", "square", (1920, 1080), ("drift", "cross", "cross", "approach",
                                                     "overtake")),
)


def _clash(a: PlateTrack, b: PlateTrack) -> int:
    """Frames in which the two plates' boxes (grown by a plate height) overlap."""
    n = 0
    for t in np.flatnonzero(a.present & b.present):
        x1, y1, x2, y2 = plate_box(a, int(t))
        u1, v1, u2, v2 = plate_box(b, int(t))
        g = max(a.height[t], b.height[t])
        n += int(x1 - g < u2 and u1 - g < x2 and y1 - g < v2 and v1 - g < y2)
    return n


def plan_clip(rng: np.random.Generator, sprites: list[Sprite], spec: ClipSpec, n: int
              ) -> list[PlateTrack]:
    """One track per plate, redrawn (up to 100 times) while it overlaps the others."""
    out: list[PlateTrack] = []
    for sp, kind in zip(sprites, spec.paths, strict=True):
        best, fewest = None, None
        for _ in range(100):
            tr = plan_track(rng, sp, kind, n, spec.size)
            clash = sum(_clash(tr, o) for o in out)
            if fewest is None or clash < fewest:
                best, fewest = tr, clash
            if clash == 0:
                break
        assert best is not None
        out.append(best)
    return out


def generate(specs: list[ClipSpec], frames: int, seed: int, out: Path,
             detector: Any = None) -> list[Path]:
    """Write NAME.mp4 and NAME.json (ground truth) for each clip; return the JSON paths.

    A clip is the same whichever others are generated with it.
    """
    rng = np.random.default_rng([seed, 7])
    sprites = pick_sprites(sum(len(c.paths) for c in CLIPS), rng, detector)
    paths = []
    for spec in specs:
        k = CLIPS.index(spec)
        used = sum(len(c.paths) for c in CLIPS[:k])
        crng = np.random.default_rng([seed, 7, k])
        plates = plan_clip(crng, sprites[used:used + len(spec.paths)], spec, frames)
        bg = background(spec.background, frames, spec.size)
        images, records = render_clip(bg, plates)
        write_video(out / f"{spec.name}.mp4", images, fps=FPS)
        gt = {
            "clip": spec.name, "video": f"{spec.name}.mp4", "width": spec.size[0],
            "height": spec.size[1], "fps": FPS, "frames": frames, "seed": seed,
            "background": spec.background,
            "plates": [_describe(i, p) for i, p in enumerate(plates)],
            "boxes": records,
        }
        (out / f"{spec.name}.json").write_text(json.dumps(gt, indent=0))
        paths.append(out / f"{spec.name}.json")
    return paths


def _describe(i: int, p: PlateTrack) -> dict[str, Any]:
    on = np.flatnonzero(p.present)
    sp = np.hypot(*np.diff(p.centre[on], axis=0).T) if len(on) > 1 else np.zeros(1)
    return {"id": i, "source": p.sprite.label, "path": p.path,
            "height_px": [round(float(p.height[on].min()), 1), round(float(p.height[on].max()), 1)],
            "speed_px_per_frame": [round(float(sp.min()), 1), round(float(sp.max()), 1)],
            "frames_drawn": [int(on[0]), int(on[-1]) + 1], "shutter": round(p.shutter, 2)}


# --------------------------------------------------------------------------- detector cache


class CachedPlates(ScaledDetector):
    """A plate detector whose output for a frame is computed once (keyed by its bytes).

    `spent` is the CPU time actually spent in the detector, `charged` what the searches asked
    for cost when they were computed (the same with `--no-cache`).
    """

    kind = Kind.PLATE

    def __init__(self, options: PlateOptions | None = None, store: dict | None = None,
                 use_cache: bool = True, inner: Any = None) -> None:
        self.inner = inner or PlateDetector(options or PlateOptions())
        self.store = {} if store is None else store
        self.use_cache = use_cache
        self.spent = self.charged = 0.0
        self.calls = self.computed = 0

    @property
    def card(self):
        return self.inner.card

    @property
    def cards(self):
        return self.inner.cards

    def setup(self) -> None:
        self.inner.setup()

    def main_pass(self, width: int, height: int) -> float:
        return self.inner.main_pass(width, height)

    def detect(self, image: np.ndarray, passes: list[float] | None = None) -> Detections:
        extra = b"" if passes is None else repr(passes).encode()
        key = hashlib.blake2b(image.tobytes() + extra, digest_size=16,
                              person=str(image.shape).encode()[:16]).digest()
        if passes is None:  # closer looks (crops) are not plate searches
            self.calls += 1
        if not self.use_cache or key not in self.store:
            t0 = time.process_time()
            found = self.inner.detect(image) if passes is None else self.inner.detect(image, passes)
            cpu = time.process_time() - t0
            self.spent += cpu
            self.computed += 1
            self.store[key] = (np.array(found.xyxy, np.float32),
                               np.array(found.score, np.float32), cpu)
        xyxy, score, cpu = self.store[key]
        self.charged += cpu
        return Detections(xyxy.copy(), score.copy(), Kind.PLATE)


# --------------------------------------------------------------------------- scoring


@dataclass
class Score:
    """Leaks and over-redaction of one mode over a set of clips."""

    plate_frames: int = 0
    leaked: int = 0
    longest: int = 0
    plates: int = 0
    leaking_plates: int = 0
    over: list[float] = field(default_factory=list)
    cpu: float = 0.0
    searched: int = 0
    frames: int = 0
    # every in-view plate-frame: (clip, plate, frame) -> (height, covered share, path,
    # frames since the plate came into view)
    covered: dict[tuple[str, int, int], tuple[float, float, str, int]] = field(
        default_factory=dict)
    leaks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def over_redaction(self) -> float:
        return float(np.mean(self.over)) if self.over else 0.0

    def add(self, o: Score) -> None:
        self.plate_frames += o.plate_frames
        self.leaked += o.leaked
        self.longest = max(self.longest, o.longest)
        self.plates += o.plates
        self.leaking_plates += o.leaking_plates
        self.over += o.over
        self.cpu += o.cpu
        self.searched += o.searched
        self.frames += o.frames
        self.covered.update(o.covered)
        self.leaks += o.leaks


def score_frames(gt: dict[str, Any], regions: dict[int, list[Region]], specs: Any) -> Score:
    """Judge each frame's regions (by the pixels their operators replace) against the boxes."""
    w, h, clip = gt["width"], gt["height"], gt["clip"]
    paths = {p["id"]: p["path"] for p in gt.get("plates", [])}
    by_frame: dict[int, list[dict[str, Any]]] = {}
    for r in gt["boxes"]:
        by_frame.setdefault(r["frame"], []).append(r)
    sc = Score(frames=gt["frames"])
    runs: dict[int, int] = {}
    first: dict[int, int] = {}
    seen: set[int] = set()
    leaking: set[int] = set()
    for t in range(gt["frames"]):
        if t not in regions:
            raise RuntimeError(f"{clip}: no plan entry for frame {t}")
        mask = redaction_mask(h, w, regions[t], specs)
        outside = np.ones((h, w), bool)
        for r in by_frame.get(t, []):
            bw, bh = r["x2"] - r["x1"], r["y2"] - r["y1"]
            gx1, gy1 = int(max(0, r["x1"] - GROW * bw)), int(max(0, r["y1"] - GROW * bh))
            gx2 = int(min(w, r["x2"] + GROW * bw + 1))
            gy2 = int(min(h, r["y2"] + GROW * bh + 1))
            if gx2 > gx1 and gy2 > gy1:
                outside[gy1:gy2, gx1:gx2] = False
        sc.over.append(float(mask[outside].mean()) if outside.any() else 0.0)
        in_view = set()
        for r in by_frame.get(t, []):
            pid = r["plate"]
            if not r["visible"]:
                continue
            in_view.add(pid)
            seen.add(pid)
            first.setdefault(pid, t)
            frac = covered(mask, (r["x1"], r["y1"], r["x2"], r["y2"]))
            sc.plate_frames += 1
            sc.covered[(clip, pid, t)] = (float(r["height"]), frac, paths.get(pid, "?"),
                                          t - first[pid])
            if frac < COVER:
                sc.leaked += 1
                runs[pid] = runs.get(pid, 0) + 1
                sc.longest = max(sc.longest, runs[pid])
                leaking.add(pid)
                sc.leaks.append({"clip": clip, "plate": pid, "frame": t, "covered": round(frac, 2),
                                 "height": r["height"], "path": paths.get(pid, "?"),
                                 "run": runs[pid]})
            else:
                runs[pid] = 0
        for pid in list(runs):  # a leak run is consecutive frames in view
            if pid not in in_view:
                runs[pid] = 0
    sc.plates, sc.leaking_plates = len(seen), len(leaking)
    return sc


# --------------------------------------------------------------------------- modes and runs


@dataclass(frozen=True)
class Mode:
    name: str
    options: Options


BASE = Options(hide=frozenset({Kind.PLATE}))


def parse_variant(text: str) -> Mode:
    """NAME:key=value,... with text_every, track=none, TrackOptions and PlateOptions fields,
    and SparseOptions fields prefixed `sparse_` (sparse_every=0: no closer looks)."""
    name, _, body = text.partition(":")
    track: dict[str, Any] = {}
    plate: dict[str, Any] = {}
    sparse: dict[str, Any] = {}
    top: dict[str, Any] = {}
    known = {**{f.name: ("track", f.type) for f in fields(TrackOptions)},
             **{f.name: ("plate", f.type) for f in fields(PlateOptions)
                if f.name not in ("text", "rec_model_path")},
             **{f"sparse_{f.name}": ("sparse", f.type) for f in fields(SparseOptions)}}
    no_track = False
    for item in filter(None, body.split(",")):
        k, _, v = (x.strip() for x in item.partition("="))
        if k == "text_every":
            top[k] = int(v)
            continue
        if k == "track":
            if v.lower() != "none":
                raise SystemExit(f"--variant {text!r}: track takes only 'none'")
            no_track = True
            continue
        if k not in known:
            raise SystemExit(f"--variant {text!r}: unknown setting {k!r}")
        group, typ = known[k]
        if typ in (bool, "bool"):
            value: Any = v.lower() in ("1", "true", "yes")
        else:
            value = int(v) if typ in (int, "int") else float(v)
        if group == "sparse":
            sparse[k.removeprefix("sparse_")] = value
        else:
            (track if group == "track" else plate)[k] = value
    opts = replace(BASE, **top, track=None if no_track else replace(TrackOptions(), **track),
                   plate=replace(PlateOptions(), **plate),
                   sparse=replace(SparseOptions(), **sparse))
    return Mode(name or text, opts)


def run_mode(mode: Mode, video: Path, det: CachedPlates) -> tuple[dict[int, list[Region]],
                                                                  float, int]:
    """Per-frame regions, the CPU seconds the run would take uncached, plate searches run."""
    opts = mode.options
    eng = Analyzer(opts, detectors=[det])
    # As pipeline._tracker: plates are hidden, so the back-hold stays on.
    tracker = Tracker(opts.track) if opts.track is not None else None
    spent, charged, calls = det.spent, det.charged, det.calls
    t0 = time.process_time()
    regions = {ref.index: regs
               for ref, regs, _ in VideoAnalysis(eng, tracker, False).run(iter_frames(video))}
    cpu = time.process_time() - t0 - (det.spent - spent) + (det.charged - charged)
    return regions, cpu, det.calls - calls


# --------------------------------------------------------------------------- reporting


def _bin_label(a: float, b: float) -> str:
    if a == 0:
        return f"< {b:g} px"
    if b >= HEIGHT_BINS[-1]:
        return f">= {a:g} px"
    return f"{a:g}-{b:g} px"


def main_table(scores: dict[str, Score], base: str) -> str:
    lines = ["| mode | plates | plate-frames in view | leaked plate-frames | longest leak "
             "(frames) | plates that leak | over-redaction | plate searches | CPU s |",
             "|---|---|---|---|---|---|---|---|---|"]
    b = scores[base]
    for name, s in scores.items():
        ratio = f" ({s.leaked / b.leaked:.2f}x)" if b.leaked and name != base else ""
        lines.append(f"| {name} | {s.plates} | {s.plate_frames} | **{s.leaked}** "
                     f"({s.leaked / max(1, s.plate_frames):.1%}){ratio} | {s.longest} | "
                     f"{s.leaking_plates} | {s.over_redaction:.2%} | {s.searched} / {s.frames} | "
                     f"{s.cpu:.0f} |")
    return "\n".join(lines)


def grouped_table(scores: dict[str, Score], head: str, groups: list[str], key) -> str:
    """Leaked / in-view plate-frames per group; key(plate-frame key, value) -> group name."""
    first = next(iter(scores.values())).covered.items()
    counts = {g: sum(key(k, v) == g for k, v in first) for g in groups}
    lines = [f"| mode \\ {head} | " + " | ".join(f"{g} ({counts[g]})" for g in groups) + " |",
             "|---|" + "---|" * len(groups)]
    for name, s in scores.items():
        cells = []
        for g in groups:
            got = [v for k, v in s.covered.items() if key(k, v) == g]
            leak = sum(v[1] < COVER for v in got)
            cells.append(f"{leak} ({leak / len(got):.1%})" if got else "–")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def height_group(_k, v) -> str:
    for a, b in itertools.pairwise(HEIGHT_BINS):
        if a <= v[0] < b:
            return _bin_label(a, b)
    return "?"


def entry_group(_k, v) -> str:
    return "first 3 frames in view" if v[3] < 3 else "frames 3-11" if v[3] < 12 else \
        "after 12 frames"


def clip_table(per_clip: list[tuple[dict[str, Any], dict[str, Score]]]) -> str:
    names = list(per_clip[0][1])
    lines = ["| clip | size | plates (path, height px, speed px/frame) | "
             + " | ".join(f"leaked, {n}" for n in names) + " |",
             "|---|---|---|" + "---|" * len(names)]
    for gt, scores in per_clip:
        plates = "; ".join(f"{p['path']} {p['height_px'][0]:.0f}-{p['height_px'][1]:.0f}, "
                           f"{p['speed_px_per_frame'][0]:.0f}-{p['speed_px_per_frame'][1]:.0f}"
                           for p in gt["plates"])
        cells = [f"{s.leaked} / {s.plate_frames} (longest {s.longest})" for s in scores.values()]
        lines.append(f"| {gt['clip']} | {gt['width']}x{gt['height']} | {plates} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--frames", type=int, default=150, help="frames per clip")
    ap.add_argument("--clips", default=",".join(c.name for c in CLIPS),
                    help="comma-separated clip names: " + ", ".join(c.name for c in CLIPS))
    ap.add_argument("--out", type=Path, default=Path("/tmp/faceless-plates-temporal"),
                    help="work folder: clips and ground truth")
    ap.add_argument("--reuse", action="store_true",
                    help="reuse clips already in --out made with the same seed and length")
    ap.add_argument("--variant", action="append", default=[],
                    help="extra mode NAME:key=value,... (text_every, track=none, TrackOptions "
                         "and PlateOptions fields); repeatable")
    ap.add_argument("--no-cache", action="store_true",
                    help="run the plate detector for every mode instead of once per frame")
    ap.add_argument("--det-cache", type=Path,
                    help="keep the detector's output per frame in this file between runs "
                         "(a pickle; only load one this script wrote)")
    ap.add_argument("--markdown", type=Path, help="write the tables to this file")
    ap.add_argument("--json", type=Path, help="write every figure and leak to this file")
    a = ap.parse_args()
    t_start = time.monotonic()
    every = {c.name: c for c in CLIPS}
    try:
        specs = [every[x.strip()] for x in a.clips.split(",") if x.strip()]
    except KeyError as err:
        raise SystemExit(f"--clips: unknown clip {err}") from None
    if not PLATES.exists():
        print(f"needs {DATA} (the shared folder beside the repository)", file=sys.stderr)
        return 2
    modes = [Mode("default", BASE)] + [parse_variant(v) for v in a.variant]
    a.out.mkdir(parents=True, exist_ok=True)
    store: dict = {}
    if a.det_cache and a.det_cache.exists():
        with a.det_cache.open("rb") as f:
            store = pickle.load(f)
    dets: dict[str, CachedPlates] = {}

    def detector(opts: PlateOptions) -> CachedPlates:
        key = repr(opts)
        if key not in dets:
            dets[key] = CachedPlates(opts, store.setdefault(("plate options", key), {}),
                                     not a.no_cache)
        return dets[key]

    gts = [a.out / f"{c.name}.json" for c in specs]

    def reusable(p: Path) -> bool:
        if not (p.exists() and p.with_suffix(".mp4").exists()):
            return False
        head = json.loads(p.read_text())
        return (head.get("seed"), head.get("frames")) == (a.seed, a.frames)

    if not (a.reuse and all(reusable(p) for p in gts)):
        t0 = time.monotonic()
        gts = generate(specs, a.frames, a.seed, a.out, detector(PlateOptions()).inner)
        print(f"generated {len(gts)} clips in {time.monotonic() - t0:.0f}s", file=sys.stderr)
    total = {m.name: Score() for m in modes}
    per_clip = []
    for gpath in gts:
        gt = json.loads(gpath.read_text())
        video = gpath.with_name(gt["video"])
        scores = {}
        for m in modes:
            t0 = time.monotonic()
            regs, cpu, searched = run_mode(m, video, detector(m.options.plate))
            s = score_frames(gt, regs, m.options.specs())
            s.cpu, s.searched = cpu, searched
            scores[m.name] = s
            total[m.name].add(s)
            print(f"{gt['clip']:12s} {m.name:10s} leaked {s.leaked:4d}/{s.plate_frames} longest "
                  f"{s.longest:3d} over {s.over_redaction:.3%} cpu {cpu:.0f}s "
                  f"({time.monotonic() - t0:.0f}s)", file=sys.stderr)
        per_clip.append((gt, scores))
    if a.det_cache:
        with a.det_cache.open("wb") as f:
            pickle.dump(store, f)
    heights = [_bin_label(x, y) for x, y in itertools.pairwise(HEIGHT_BINS)]
    text = ["## Plate leaks over time", "",
            main_table(total, modes[0].name), "",
            "Leaked plate-frames: in-view labelled plate-frames with < 70% of the box masked (in "
            "brackets, the ratio to the first mode). Longest leak: consecutive in-view frames "
            "one plate stays uncovered. Over-redaction: masked share of the pixels outside every "
            "labelled plate box grown 20% per side, averaged over frames (the pasted cars' "
            "other text counts). Plate searches: frames the plate detector ran on. CPU s: the "
            "run's CPU time (decode, tracking, back-hold) plus each plate search's CPU time "
            "as measured when it was computed.", "",
            "### Leaked plate-frames by plate height", "",
            grouped_table(total, "plate height", heights, height_group), "",
            "### Leaked plate-frames by path", "",
            grouped_table(total, "path", list(KINDS), lambda _k, v: v[2]), "",
            "### Leaked plate-frames by time since the plate came into view", "",
            grouped_table(total, "time in view",
                          ["first 3 frames in view", "frames 3-11", "after 12 frames"],
                          entry_group), "",
            "### Per clip", "", clip_table(per_clip), ""]
    ref = next((m.name for m in modes if m.options.track is None), None)
    if ref is not None:
        found = {k for k, v in total[ref].covered.items() if v[1] >= COVER}
        plates_found = {k[:2] for k in found}
        groups = ["found on its own frame", "missed on its own frame, plate found elsewhere",
                  "plate never found"]

        def split(k, _v) -> str:
            return groups[0] if k in found else groups[1] if k[:2] in plates_found else \
                groups[2]

        text += [
            "### Leaked plate-frames by what the detector finds on the frame alone", "",
            f"Split by `{ref}` (no tracking, the detector on every frame): whether the detector "
            "covers the plate on that frame alone, and if not, whether it does on some other "
            f"frame. {len(plates_found)} of {total[ref].plates} plates are found on at least "
            "one frame.", "",
            grouped_table(total, "detector alone", groups, split), ""]
    elapsed = time.monotonic() - t_start
    computed = sum(d.computed for d in dets.values())
    text += [f"Run: {elapsed:.0f}s on {os.cpu_count()} cores ({cpu_model()}), seed {a.seed}, "
             f"{a.frames} frames per clip at {FPS} fps; the plate detector ran {computed} times"
             f"{' (no cache)' if a.no_cache else ' (once per distinct frame)'}.", ""]
    out = "\n".join(text)
    print(out)
    if a.markdown:
        a.markdown.write_text(out)
    if a.json:
        a.json.write_text(json.dumps({
            k: {**{f: getattr(v, f) for f in ("plate_frames", "leaked", "longest", "plates",
                                              "leaking_plates", "cpu", "searched", "frames")},
                "over_redaction": v.over_redaction, "leaks": v.leaks}
            for k, v in total.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
