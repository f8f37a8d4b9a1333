"""Temporal leaks: real faces moved over real video with exact per-frame boxes, judged per frame.

Each clip composites real face crops (with their surrounding context, feathered into the
background) over real footage along linear, curved and zig-zag paths, with scale changes
(about 20 to 120 px), motion blur along the velocity, brief full occlusions (a grey bar or a
patch of background) and low-contrast stretches. Every frame's face boxes are known exactly.
faceless then runs on each clip twice, frame by frame (`Options(track=None)`) and with
tracking (default `Options()`), and each plan is judged by the pixels its operator replaces
(`redaction_mask`): an in-view face is covered in a frame when >= 70% of its box is masked
(../shared/tools/redaction_eval.py's rule). The same is done on the OTB "Girl" sequence.

    python bench/temporal.py                                 # 4 clips x 150 frames + Girl
    python bench/temporal.py --markdown out.md --sheet leaks.png
    python bench/temporal.py --variant post10:post_extend=10 --variant iou1:min_iou=0.1

The detector's output depends on the frame alone, so it is computed once per frame and served
from a cache to the second run and to every --variant (`--no-cache` runs it every time).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import os
import pickle
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from PIL import Image, ImageDraw

from faceless.analyze import Analyzer, VideoAnalysis
from faceless.anonymize import Redactor
from faceless.anonymize.operators import redaction_mask
from faceless.api import anonymize_file, detect_file
from faceless.core.geometry import iou_matrix
from faceless.core.types import Detections, FrameRef, Origin, Region
from faceless.detect.base import CandidateDetector
from faceless.detect.faces import CenterFaceDetector, FaceOptions
from faceless.detect.guided import ScheduleOptions
from faceless.media.video import VideoFrame, iter_frames, x264_same_bytes
from faceless.options import Options
from faceless.plan.model import Plan
from faceless.track.tracker import Tracker, TrackOptions

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data"
FACES = DATA / "faces"
VIDEOS = DATA / "videos"
GIRL = VIDEOS / "otb-girl" / "Girl"

FPS = 30
COVER = 0.7  # share of a face box that must be masked (redaction_eval's --cover)
# Judged by output pixels (--tool): a pixel is changed when a channel differs by more than
# this after both videos are decoded: above what re-encoding alone moves nearly every pixel by.
CHANGED = 24
GROW = 0.2  # over-redaction ignores labelled boxes grown this much per side (redaction_eval)
CONTEXT = 2.4  # a face crop is this many times the face box, centred on it
MIN_CONTEXT = 2.0
SIZE_RANGE = (20.0, 120.0)  # face box's longer side in the clips, px
PROBE_SIDE = 64  # a source face is used only if faceless finds it in its crop at this size
# Exposure as a share of the frame interval, drawn per face: from the 180-degree rule (0.5) of
# cine and bright daylight to a shutter open for the whole interval (1.0) in dim light. The
# blur's length is the distance moved while it is open.
SHUTTER = (0.4, 1.0)

# Frames of the Girl sequence (0-based) where no face is visible: she has turned her back to
# the camera (profile frames, where one eye shows, are not in here). Judged by eye on a contact
# sheet of every frame.
GIRL_NO_FACE = ((94, 108), (177, 240))


# --------------------------------------------------------------------------- face sources


@dataclass(frozen=True)
class FaceSource:
    image: Path
    box: tuple[float, float, float, float]
    others: tuple[tuple[float, float, float, float], ...]
    label: str


def face_sources(min_side: float = 56.0) -> list[FaceSource]:
    """Labelled faces big enough to be shown at up to ~120 px (kaggle-face-mask, dlib)."""
    out: list[FaceSource] = []
    kag = FACES / "kaggle-face-mask"
    for xml in sorted((kag / "annotations").glob("*.xml")):
        boxes = []
        for obj in ET.parse(xml).getroot().iter("object"):
            b = obj.find("bndbox")
            boxes.append(tuple(float(b.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax")))
        for i, b in enumerate(boxes):
            if max(b[2] - b[0], b[3] - b[1]) >= min_side:
                others = tuple(o for j, o in enumerate(boxes) if j != i)
                out.append(FaceSource(kag / "images" / f"{xml.stem}.jpg", b, others,
                                      f"kaggle:{xml.stem}#{i}"))
    base = FACES / "dlib-examples" / "examples" / "faces"
    for name in ("training.xml", "testing.xml"):
        if not (base / name).exists():
            continue
        for img in ET.parse(base / name).getroot().iter("image"):
            boxes = []
            for b in img.iter("box"):
                x, y = float(b.get("left")), float(b.get("top"))
                boxes.append((x, y, x + float(b.get("width")), y + float(b.get("height"))))
            for i, b in enumerate(boxes):
                if max(b[2] - b[0], b[3] - b[1]) >= min_side:
                    others = tuple(o for j, o in enumerate(boxes) if j != i)
                    out.append(FaceSource(base / img.get("file"), b, others,
                                          f"dlib:{img.get('file')}#{i}"))
    return out


@dataclass
class Sprite:
    """A face with its context: RGB (float32), feathered alpha, face box in crop pixels."""

    rgb: np.ndarray
    alpha: np.ndarray
    box: tuple[float, float, float, float]
    label: str

    @property
    def side(self) -> float:
        x1, y1, x2, y2 = self.box
        return max(x2 - x1, y2 - y1)


def make_sprite(src: FaceSource) -> Sprite | None:
    """Crop ~2.4x the face box around it; None when the crop would hold another face."""
    image = np.asarray(Image.open(src.image).convert("RGB"))
    h, w = image.shape[:2]
    x1, y1, x2, y2 = src.box
    cx, cy, fw, fh = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
    k = min(CONTEXT, 2 * cx / fw, 2 * (w - cx) / fw, 2 * cy / fh, 2 * (h - cy) / fh)
    if k < MIN_CONTEXT:
        return None
    cx1, cy1 = math.floor(cx - fw * k / 2), math.floor(cy - fh * k / 2)
    cx2, cy2 = math.ceil(cx + fw * k / 2), math.ceil(cy + fh * k / 2)
    cx1, cy1, cx2, cy2 = max(cx1, 0), max(cy1, 0), min(cx2, w), min(cy2, h)
    for o in src.others:  # another face in the context would be an unlabelled face
        ix = max(0.0, min(o[2], cx2) - max(o[0], cx1))
        iy = max(0.0, min(o[3], cy2) - max(o[1], cy1))
        if ix * iy > 0.1 * (o[2] - o[0]) * (o[3] - o[1]):
            return None
    crop = image[cy1:cy2, cx1:cx2].astype(np.float32)
    ch, cw = crop.shape[:2]
    box = (x1 - cx1, y1 - cy1, x2 - cx1, y2 - cy1)
    # Elliptic feather: opaque over the face box (its corners included), fading to 0 at the
    # crop's border, so the context blends into the new background without a seam.
    fcx, fcy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    rx, ry = min(fcx, cw - fcx), min(fcy, ch - fcy)
    yy, xx = np.mgrid[0:ch, 0:cw].astype(np.float32) + 0.5
    r = np.sqrt(((xx - fcx) / rx) ** 2 + ((yy - fcy) / ry) ** 2)
    r0 = min(0.9, math.hypot(fw / 2 / rx, fh / 2 / ry) + 0.04)
    t = np.clip((1.0 - r) / (1.0 - r0), 0.0, 1.0)
    alpha = (t * t * (3 - 2 * t)).astype(np.float32)
    return Sprite(crop, alpha, box, src.label)


def pick_sprites(n: int, rng: np.random.Generator, min_side: float = 56.0) -> list[Sprite]:
    """n sprites from distinct source faces that faceless finds in their crop at 64 px.

    The benchmark measures what happens over time, not still-image recall (bench/recall.py
    does that), so a face the detector cannot find even when still and sharp is left out.
    """
    pool = face_sources(min_side)
    det = CenterFaceDetector(FaceOptions())
    out: list[Sprite] = []
    for i in rng.permutation(len(pool)):
        sp = make_sprite(pool[int(i)])
        if sp is None:
            continue
        k = PROBE_SIDE / sp.side
        small = cv2.resize(sp.rgb, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
        found = det.detect(np.clip(small, 0, 255).astype(np.uint8))
        gt = np.array([sp.box]) * k
        if len(found) and iou_matrix(gt, found.xyxy).max() >= 0.3:
            out.append(sp)
            if len(out) == n:
                return out
    raise RuntimeError(f"only {len(out)} usable faces found, {n} needed")


# --------------------------------------------------------------------------- backgrounds


def _video_frames(path: Path, start: int, n: int) -> list[np.ndarray]:
    out = []
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i >= start:
                out.append(f.to_ndarray(format="rgb24"))
            if len(out) == n:
                break
    while len(out) < n:  # a short source plays back and forth
        out.extend(out[-2::-1][: n - len(out)])
    return out


def _image_frames(folder: Path, n: int) -> list[np.ndarray]:
    """n frames from a folder of JPEGs, played back and forth when it holds fewer."""
    out = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("*.jpg"))[:n]]
    while len(out) < n:
        out.extend(out[-2::-1][: n - len(out)])
    return out


def background(name: str, n: int, size: tuple[int, int]) -> list[np.ndarray]:
    """n frames of a real background scene at `size` (W, H)."""
    h = size[1]
    if name == "square":  # MOT17-04: a 1920x1080 night-time square seen from above (8 frames)
        frames = _image_frames(VIDEOS / "mot17-mini" / "MOT17-mini" / "train"
                               / "MOT17-04-FRCNN" / "img1", n)
        return [f if f.shape[1::-1] == size else
                cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
    if name == "carpark":  # EgoBlur gen2: a 2560x1920 fisheye car park (24 frames), the 16:9
        frames = _video_frames(VIDEOS / "egoblur-demo" / "gen2" / "demo_assets"  # middle band
                               / "test_lp_video.mp4", 0, n)
        return [cv2.resize(f[240:1680], size, interpolation=cv2.INTER_AREA) for f in frames]
    if name == "pets":  # campus CCTV, 480x360, small pedestrians
        frames = _video_frames(VIDEOS / "pets2009-vtest" / "vtest.mp4", 0, n)
        return [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
    if name == "pets-zoom":  # the same camera later on, a 480x270 window enlarged
        frames = _video_frames(VIDEOS / "pets2009-vtest" / "vtest.mp4", 300, n)
        return [cv2.resize(f[45:315], size, interpolation=cv2.INTER_LINEAR) for f in frames]
    if name == "shirt":  # hand-held phone video (the lower part: shirt, arm, wall)
        frames = _video_frames(VIDEOS / "egoblur-demo" / "gen1" / "demo_assets"
                               / "test_video.mp4", 0, n)
        return [cv2.resize(f[738:1080], size, interpolation=cv2.INTER_LINEAR) for f in frames]
    if name == "plaza":  # a slow pan over a 1920x1080 street photo (lower half: paving, shops)
        img = np.asarray(Image.open(VIDEOS / "mot17-mini" / "MOT17-mini" / "train"
                                    / "MOT17-02-FRCNN" / "img1" / "000001.jpg").convert("RGB"))
        k = h / 540  # the lower 960x540 window, scaled to the clip, panning 960 px to the right
        img = cv2.resize(img, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
        out = []
        for i in range(n):
            x = 960 * k * i / max(1, n - 1)
            m = np.float32([[1, 0, -x], [0, 1, -540 * k]])
            out.append(cv2.warpAffine(img, m, size, flags=cv2.INTER_LINEAR))
        return out
    raise ValueError(f"unknown background {name!r}")


# --------------------------------------------------------------------------- motion


@dataclass
class FaceTrack:
    """Where one face is in each frame, and what happens to it."""

    sprite: Sprite
    path: str
    centre: np.ndarray  # (n, 2)
    side: np.ndarray  # (n,) face box's longer side, px
    contrast: np.ndarray  # (n,) 1 = untouched
    brightness: np.ndarray  # (n,)
    occlusions: list[tuple[int, int, str]] = field(default_factory=list)  # [start, end), kind
    shutter: float = 0.5

    def box(self, t: int) -> tuple[float, float, float, float]:
        """Nominal face box (before pixel placement) in frame t."""
        k = self.side[t] / self.sprite.side
        x1, y1, x2, y2 = self.sprite.box
        cx, cy = self.centre[t]
        return (cx - (x2 - x1) * k / 2, cy - (y2 - y1) * k / 2,
                cx + (x2 - x1) * k / 2, cy + (y2 - y1) * k / 2)


def _sizes(rng: np.random.Generator, n: int,
           sizes: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """Face sizes over n frames: from a low in [a, b) to a high in [c, d) and back or not."""
    a, b, c, d = sizes or (SIZE_RANGE[0] - 2, 40, 70, SIZE_RANGE[1])
    lo = rng.uniform(a, b)
    hi = rng.uniform(c, d)
    u = np.arange(n) / max(1, n - 1)
    shape = rng.choice(["grow", "shrink", "pulse", "dip"])
    if shape == "grow":
        f = u
    elif shape == "shrink":
        f = 1 - u
    elif shape == "pulse":
        f = np.sin(np.pi * u)
    else:
        f = 1 - np.sin(np.pi * u)
    return lo + (hi - lo) * f


def _path(rng: np.random.Generator, kind: str, side: np.ndarray,
          size: tuple[int, int], speed_scale: float = 1.0) -> np.ndarray:
    """Centres along a linear, curved or zig-zag path, bouncing off the frame's edges."""
    w, h = size
    n = len(side)
    speed = rng.uniform(2.0, 8.0) if kind != "zigzag" else rng.uniform(4.0, 12.0)
    speed *= speed_scale
    angle = rng.uniform(0, 2 * np.pi)
    turn = rng.choice([-1, 1]) * rng.uniform(0.03, 0.08)  # curved: radians per frame
    period = int(rng.integers(10, 22))  # zig-zag: frames per leg
    swing = rng.uniform(np.radians(50), np.radians(80))
    base = angle
    m0 = 0.6 * side[0]
    pos = np.array([rng.uniform(m0, w - m0), rng.uniform(m0, h - m0)])
    out = np.zeros((n, 2))
    for t in range(n):
        m = 0.6 * side[t]
        for d, lim in ((0, w), (1, h)):  # keep the whole face inside, bouncing off the edges
            if pos[d] < m or pos[d] > lim - m:
                pos[d] = min(max(pos[d], m), lim - m)
                v = np.array([np.cos(angle), np.sin(angle)])
                if (pos[d] <= m and v[d] < 0) or (pos[d] >= lim - m and v[d] > 0):
                    v[d] = -v[d]
                    angle = math.atan2(v[1], v[0])
                    bv = np.array([np.cos(base), np.sin(base)])
                    bv[d] = -bv[d]
                    base = math.atan2(bv[1], bv[0])
        out[t] = pos
        if kind == "curved":
            angle += turn
        elif kind == "zigzag":
            angle = base + swing * (1 if (t // period) % 2 == 0 else -1)
        pos = pos + speed * np.array([np.cos(angle), np.sin(angle)])
    return out


def _overlap_frames(a: FaceTrack, b: FaceTrack) -> int:
    n = 0
    for t in range(len(a.side)):
        x1, y1, x2, y2 = a.box(t)
        u1, v1, u2, v2 = b.box(t)
        gw, gh = 0.15 * (x2 - x1 + u2 - u1), 0.15 * (y2 - y1 + v2 - v1)
        if x1 - gw < u2 and u1 - gw < x2 and y1 - gh < v2 and v1 - gh < y2:
            n += 1
    return n


def plan_faces(rng: np.random.Generator, sprites: list[Sprite], n: int,
               size: tuple[int, int],
               sizes: tuple[float, float, float, float] | None = None,
               speed_scale: float = 1.0, tries: int = 200) -> list[FaceTrack]:
    """Paths that keep faces apart (rejection sampling, `tries` paths a face), occlusions,
    low-contrast stretches."""
    kinds = ["linear", "curved", "zigzag"]
    tracks: list[FaceTrack] = []
    for i, sp in enumerate(sprites):
        kind = kinds[(i + int(rng.integers(3))) % 3]
        best, best_clash = None, None
        for _ in range(tries):
            side = _sizes(rng, n, sizes)
            ft = FaceTrack(sp, kind, _path(rng, kind, side, size, speed_scale), side,
                           np.ones(n), np.ones(n))
            clash = sum(_overlap_frames(ft, o) for o in tracks)
            if best_clash is None or clash < best_clash:
                best, best_clash = ft, clash
            if clash == 0:
                break
        assert best is not None
        ft = best
        ft.shutter = float(rng.uniform(*SHUTTER))
        # One or two full occlusions of 2-6 frames each, apart from each other.
        for _ in range(int(rng.integers(1, 3))):
            for _try in range(20):
                length = int(rng.integers(2, 7))
                if n - length - 8 <= 8:
                    break
                s = int(rng.integers(8, n - length - 8))
                if all(s + length + 10 <= a or b + 10 <= s for a, b, _ in ft.occlusions):
                    ft.occlusions.append((s, s + length, str(rng.choice(["bar", "patch"]))))
                    break
        # A low-contrast, darker stretch of 8-20 frames (a face in shadow), most of the time.
        if rng.random() < 0.75:
            length = min(int(rng.integers(8, 21)), n // 2)
            s = int(rng.integers(0, n - length))
            c, b = rng.uniform(0.12, 0.3), rng.uniform(0.3, 0.55)
            ramp = np.clip(np.minimum(np.arange(n) - s + 1, s + length - np.arange(n)) / 3, 0, 1)
            ft.contrast = 1 - (1 - c) * ramp
            ft.brightness = 1 - (1 - b) * ramp
        ft.occlusions.sort()
        tracks.append(ft)
    return tracks


# --------------------------------------------------------------------------- rendering


def line_kernel(length: float, angle: float) -> np.ndarray:
    """A normalised motion-blur kernel: a line of `length` px along `angle`."""
    k = max(3, math.ceil(length) | 1)
    ker = np.zeros((k, k), np.float32)
    c = (k - 1) / 2
    dx, dy = math.cos(angle) * (length - 1) / 2, math.sin(angle) * (length - 1) / 2
    p1 = (round((c - dx) * 16), round((c - dy) * 16))
    p2 = (round((c + dx) * 16), round((c + dy) * 16))
    cv2.line(ker, p1, p2, 1.0, 1, cv2.LINE_AA, shift=4)
    return ker / ker.sum()


def resize_sprite(rgb: np.ndarray, alpha: np.ndarray, k: float
                  ) -> tuple[np.ndarray, np.ndarray, float, float]:
    """A sprite's RGB and alpha scaled by `k` (whole pixels), and the exact x and y factors."""
    ch, cw = rgb.shape[:2]
    nw, nh = max(1, round(cw * k)), max(1, round(ch * k))
    interp = cv2.INTER_AREA if k < 1 else cv2.INTER_CUBIC
    out = cv2.resize(rgb, (nw, nh), interpolation=interp)
    a = np.clip(cv2.resize(alpha, (nw, nh), interpolation=cv2.INTER_LINEAR), 0, 1)
    return out, a, nw / cw, nh / ch


def paste_moving(frame: np.ndarray, rgb: np.ndarray, alpha: np.ndarray, x0: int, y0: int,
                 v: np.ndarray, shutter: float) -> tuple[int, int, np.ndarray, float]:
    """Composite a sprite into `frame` (float32, in place) at (x0, y0), smeared along its
    motion `v` (px a frame) for `shutter` of a frame; return where its (grown) alpha lies,
    that alpha, and the blur's length in px."""
    h, w = frame.shape[:2]
    prem = rgb * alpha[..., None]
    length = shutter * float(np.hypot(*v))
    if length >= 1.5:
        ker = line_kernel(length, math.atan2(v[1], v[0]))
        p = ker.shape[0] // 2 + 1
        prem = cv2.filter2D(cv2.copyMakeBorder(prem, p, p, p, p, cv2.BORDER_CONSTANT), -1, ker)
        alpha = cv2.filter2D(cv2.copyMakeBorder(alpha, p, p, p, p, cv2.BORDER_CONSTANT), -1, ker)
        x0, y0 = x0 - p, y0 - p
    ah, aw = alpha.shape
    sx1, sy1 = max(0, -x0), max(0, -y0)
    dx1, dy1, dx2, dy2 = max(0, x0), max(0, y0), min(w, x0 + aw), min(h, y0 + ah)
    if dx2 > dx1 and dy2 > dy1:
        a = alpha[sy1:sy1 + dy2 - dy1, sx1:sx1 + dx2 - dx1, None]
        pm = prem[sy1:sy1 + dy2 - dy1, sx1:sx1 + dx2 - dx1]
        frame[dy1:dy2, dx1:dx2] = frame[dy1:dy2, dx1:dx2] * (1 - a) + pm
    return x0, y0, alpha, length


def span(box: tuple[float, float, float, float], w: int, h: int) -> tuple[int, int, int, int]:
    """redaction_eval's integer pixel span of a labelled box."""
    x1, y1, x2, y2 = box
    return (int(max(0, math.floor(x1))), int(max(0, math.floor(y1))),
            int(min(w, math.ceil(x2))), int(min(h, math.ceil(y2))))


def render_clip(name: str, bg: list[np.ndarray], faces: list[FaceTrack],
                rng: np.random.Generator) -> tuple[list[np.ndarray], list[dict[str, Any]]]:
    """Composite every frame; return the frames and one record per face and frame."""
    h, w = bg[0].shape[:2]
    frames, records = [], []
    # Occluders: one rectangle per event, covering the face's boxes over the whole event (it
    # passes behind a post or a sign), grown 20%; a grey bar or background from elsewhere.
    occluders: list[tuple[int, int, tuple[int, int, int, int], str, Any]] = []
    for fi, ft in enumerate(faces):
        for s, e, kind in ft.occlusions:
            bx = np.array([ft.box(t) for t in range(s, e)])
            x1, y1 = bx[:, 0].min(), bx[:, 1].min()
            x2, y2 = bx[:, 2].max(), bx[:, 3].max()
            gw, gh = 0.2 * (x2 - x1), 0.2 * (y2 - y1)
            rect = (max(0, int(x1 - gw)), max(0, int(y1 - gh)),
                    min(w, math.ceil(x2 + gw)), min(h, math.ceil(y2 + gh)))
            extra: Any = int(rng.integers(70, 190))
            if kind == "patch":
                rw, rh = rect[2] - rect[0], rect[3] - rect[1]
                extra = (int(rng.integers(0, w - rw + 1)), int(rng.integers(0, h - rh + 1)))
            occluders.append((s, e, rect, kind, (fi, extra)))
    for t in range(len(bg)):
        frame = bg[t].astype(np.float32)
        placed = []  # (face index, x0, y0, alpha) for visibility
        boxes: dict[int, tuple[float, float, float, float]] = {}
        blur: dict[int, float] = {}
        order = sorted(range(len(faces)), key=lambda i: faces[i].side[t])  # far (small) first
        for fi in order:
            ft = faces[fi]
            sp = ft.sprite
            rgb, alpha, kx, ky = resize_sprite(sp.rgb, sp.alpha, ft.side[t] / sp.side)
            fx1, fy1, fx2, fy2 = sp.box
            cx, cy = ft.centre[t]
            x0 = round(cx - (fx1 + fx2) / 2 * kx)
            y0 = round(cy - (fy1 + fy2) / 2 * ky)
            boxes[fi] = (x0 + fx1 * kx, y0 + fy1 * ky, x0 + fx2 * kx, y0 + fy2 * ky)
            if ft.contrast[t] < 1:
                m = float((rgb * alpha[..., None]).sum() / max(alpha.sum() * 3, 1e-6))
                rgb = (m + (rgb - m) * ft.contrast[t]) * ft.brightness[t]
            v = ft.centre[t] - ft.centre[t - 1] if t else ft.centre[1] - ft.centre[0]
            x0, y0, alpha, blur[fi] = paste_moving(frame, rgb, alpha, x0, y0, v, ft.shutter)
            placed.append((fi, x0, y0, alpha))
        active = [(rect, kind, extra) for s, e, rect, kind, extra in occluders if s <= t < e]
        for (x1, y1, x2, y2), kind, (_, extra) in active:
            if kind == "bar":
                frame[y1:y2, x1:x2] = extra
            else:
                px, py = extra
                frame[y1:y2, x1:x2] = bg[t][py:py + y2 - y1, px:px + x2 - x1]
        image = np.clip(frame + 0.5, 0, 255).astype(np.uint8)
        frames.append(image)
        for pos, (fi, *_rest) in enumerate(placed):
            sx1, sy1, sx2, sy2 = span(boxes[fi], w, h)
            hidden = np.zeros((sy2 - sy1, sx2 - sx1), bool)
            for fj, x0, y0, alpha in placed[pos + 1:]:  # faces drawn over this one
                ah, aw = alpha.shape
                ox1, oy1 = max(sx1, x0), max(sy1, y0)
                ox2, oy2 = min(sx2, x0 + aw), min(sy2, y0 + ah)
                if ox2 > ox1 and oy2 > oy1 and fj != fi:
                    hidden[oy1 - sy1:oy2 - sy1, ox1 - sx1:ox2 - sx1] |= (
                        alpha[oy1 - y0:oy2 - y0, ox1 - x0:ox2 - x0] > 0.5)
            for (x1, y1, x2, y2), _kind, _extra in active:
                ox1, oy1, ox2, oy2 = max(sx1, x1), max(sy1, y1), min(sx2, x2), min(sy2, y2)
                if ox2 > ox1 and oy2 > oy1:
                    hidden[oy1 - sy1:oy2 - sy1, ox1 - sx1:ox2 - sx1] = True
            frac = float(hidden.mean()) if hidden.size else 1.0
            b = boxes[fi]
            records.append({
                "frame": t, "face": fi, "x1": round(b[0], 2), "y1": round(b[1], 2),
                "x2": round(b[2], 2), "y2": round(b[3], 2),
                # fully occluded (>= 90% of the box hidden) is not in view and does not count
                "visible": frac < 0.9, "hidden": round(frac, 3),
                "size": round(max(b[2] - b[0], b[3] - b[1]), 1), "blur": round(blur[fi], 1),
                "contrast": round(float(faces[fi].contrast[t]), 2),
            })
    records.sort(key=lambda r: (r["frame"], r["face"]))
    return frames, records


def yuv420(rgb: np.ndarray) -> np.ndarray:
    """BT.601 limited-range 4:2:0 planes stacked as PyAV's yuv420p array (even sizes only).

    Done here because frames that PyAV converted (on encode, or with reformat) came out of
    x264 with different bits from one run to the next; these do not.
    """
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    y = 16 + 0.256788 * r + 0.504129 * g + 0.097906 * b
    u = 128 - 0.148223 * r - 0.290993 * g + 0.439216 * b
    v = 128 + 0.439216 * r - 0.367788 * g - 0.071427 * b
    h, w = y.shape
    u = u.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    v = v.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    planes = [np.clip(np.rint(p), 0, 255).astype(np.uint8).ravel() for p in (y, u, v)]
    return np.concatenate(planes).reshape(h * 3 // 2, w)


def write_video(path: Path, frames: list[np.ndarray], crf: int = 18, fps: int = FPS) -> None:
    """H.264 (libx264, yuv420p) at `fps` frames per second, pts 0, 1, 2, ..."""
    tb = Fraction(1, fps)
    with av.open(str(path), mode="w") as c:
        st = c.add_stream("libx264", rate=fps)
        st.width, st.height = frames[0].shape[1], frames[0].shape[0]
        st.pix_fmt = "yuv420p"
        st.codec_context.time_base = tb
        # A fixed thread count: x264's output depends on it, and "auto" follows the CPUs this
        # process may use. x264_same_bytes keeps x264 off its AVX-512 code, whose output
        # depended on leftover heap memory (faceless.media.video._x264_cpu_without_avx512).
        st.options = {"crf": str(crf), "preset": "medium", "threads": "2", **x264_same_bytes()}
        for i, img in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(yuv420(img), format="yuv420p")
            vf.pts, vf.time_base = i, tb
            c.mux(st.encode(vf))
        c.mux(st.encode(None))


@dataclass(frozen=True)
class ClipSpec:
    name: str
    background: str
    size: tuple[int, int]
    faces: int
    # face sizes: the low drawn from [a, b), the high from [c, d) (None: SIZE_RANGE's default)
    sizes: tuple[float, float, float, float] | None = None
    speed_scale: float = 1.0  # px per frame, relative to the 360-line clips


CLIPS = (
    ClipSpec("pets", "pets", (480, 360), 4),
    ClipSpec("shirt", "shirt", (640, 360), 4),
    ClipSpec("plaza", "plaza", (640, 360), 5),
    ClipSpec("pets-zoom", "pets-zoom", (640, 360), 5),
)

# HD clips: real 1080p (and larger) footage at 1280x720 and 1920x1080, faces from ~20 to
# ~200 px drawn from larger source faces (>= 80 px), moving proportionally faster.
HD_SIZES = (18.0, 50.0, 90.0, 200.0)
HD_CLIPS = (
    ClipSpec("square-720", "square", (1280, 720), 5, HD_SIZES, 1.5),
    ClipSpec("carpark-720", "carpark", (1280, 720), 5, HD_SIZES, 1.5),
    ClipSpec("square-1080", "square", (1920, 1080), 6, HD_SIZES, 2.0),
    ClipSpec("carpark-1080", "carpark", (1920, 1080), 6, HD_SIZES, 2.0),
)
CLIP_SETS = {"default": CLIPS, "hd": HD_CLIPS}
HD_MIN_SIDE = 80.0


def generate(specs: list[ClipSpec], frames: int, seed: int, out: Path) -> list[Path]:
    """Write NAME.mp4 and NAME.json (ground truth) for each clip; return the JSON paths.

    A clip is the same whichever others are generated with it (faces are drawn for all clips
    of its set, CLIPS or HD_CLIPS).
    """
    sprites: dict[bool, list[Sprite]] = {}
    paths = []
    for spec in specs:
        hd = spec in HD_CLIPS
        clipset = HD_CLIPS if hd else CLIPS
        if hd not in sprites:  # CLIPS draw from `seed`, HD_CLIPS from [seed, 1080]
            rng = np.random.default_rng([seed, 1080] if hd else seed)
            sprites[hd] = pick_sprites(sum(s.faces for s in clipset), rng,
                                       HD_MIN_SIDE if hd else 56.0)
        k = clipset.index(spec)
        used = sum(c.faces for c in clipset[:k])
        crng = np.random.default_rng([seed, 1080, k] if hd else [seed, k])
        faces = plan_faces(crng, sprites[hd][used:used + spec.faces], frames, spec.size,
                           spec.sizes, spec.speed_scale)
        bg = background(spec.background, frames, spec.size)
        images, records = render_clip(spec.name, bg, faces, crng)
        write_video(out / f"{spec.name}.mp4", images)
        gt = {
            "clip": spec.name, "video": f"{spec.name}.mp4", "width": spec.size[0],
            "height": spec.size[1], "fps": FPS, "frames": frames, "seed": seed,
            "background": spec.background,
            "faces": [{"id": i, "source": f.sprite.label, "path": f.path,
                       "size_px": [round(float(f.side.min())), round(float(f.side.max()))],
                       "speed_px_per_frame": round(float(np.hypot(
                           *np.diff(f.centre, axis=0).T).mean()), 1),
                       "shutter": round(f.shutter, 2),
                       "occlusions": [[s, e, k] for s, e, k in f.occlusions],
                       "low_contrast_frames": int((f.contrast < 0.99).sum())}
                      for i, f in enumerate(faces)],
            "boxes": records,
        }
        (out / f"{spec.name}.json").write_text(json.dumps(gt, indent=0))
        paths.append(out / f"{spec.name}.json")
    return paths


# --------------------------------------------------------------------------- detector cache


CACHE_FLOOR = 0.02  # candidates are cached down to this score


class CachedDetector(CandidateDetector):
    """CenterFace whose output for a frame is computed once (keyed by the frame's bytes).

    Candidates are computed at `floor` and filtered to `candidate_threshold`; with NMS merging
    lower-scored boxes never change which higher-scored boxes are kept, so this equals a run
    at that threshold. `detect` returns the confident part, as CenterFaceDetector.detect does.
    """

    kind = CenterFaceDetector.kind

    def __init__(self, options: FaceOptions | None = None, floor: float = CACHE_FLOOR,
                 store: dict | None = None, candidate_threshold: float | None = None,
                 stats: dict[str, int] | None = None) -> None:
        self.inner = CenterFaceDetector(replace(options or FaceOptions(),
                                                candidate_threshold=floor))
        self.floor = floor
        self.store = {} if store is None else store
        self.min_score = (options or FaceOptions()).candidate_threshold \
            if candidate_threshold is None else candidate_threshold
        if self.min_score < floor:
            raise ValueError(f"candidate_threshold below the cache floor {floor}")
        self.stats = {"calls": 0} if stats is None else stats  # shared with every view

    def view(self, candidate_threshold: float | None = None) -> CachedDetector:
        """The same cache, with another candidate threshold."""
        v = CachedDetector.__new__(CachedDetector)
        v.__dict__.update(self.__dict__)
        if candidate_threshold is not None:
            if candidate_threshold < self.floor:
                raise ValueError(f"candidate_threshold below the cache floor {self.floor}")
            v.min_score = candidate_threshold
        return v

    @property
    def card(self):
        return self.inner.card

    def setup(self) -> None:
        self.inner.setup()

    def detect_all(self, image: np.ndarray, candidates: bool = True,
                   video: bool = False) -> tuple[Detections, Detections]:
        key = hashlib.blake2b(image.tobytes(), digest_size=16,
                              person=f"{image.shape}{video:d}".encode()[:16]).digest()
        if key not in self.store:
            self.stats["calls"] += 1
            self.store[key] = self.inner.detect_all(image, candidates=True, video=video)
        found, maybe = self.store[key]
        if not candidates:
            return found, Detections.empty(found.kind)
        keep = maybe.score >= self.min_score
        return found, Detections(maybe.xyxy[keep], maybe.score[keep], maybe.kind)

    def detect(self, image: np.ndarray) -> Detections:
        return self.detect_all(image, candidates=False)[0]

    def detect_at(self, image: np.ndarray, scale: float,
                  threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """One pass at one scale on a frame or a crop, computed once per (pixels, shape,
        scale, threshold); copies, so a caller that edits them leaves the cache alone."""
        digest = hashlib.blake2b(image.tobytes(), digest_size=16,
                                 person=b"detect_at").digest()
        key = ("detect_at", digest, image.shape, str(image.dtype), float(scale),
               float(threshold))
        if key not in self.store:
            self.stats["calls"] += 1
            self.stats["detect_at"] = self.stats.get("detect_at", 0) + 1
            xyxy, score = self.inner.detect_at(image, scale, threshold)
            self.store[key] = (np.array(xyxy, np.float32), np.array(score, np.float32))
        xyxy, score = self.store[key]
        return xyxy.copy(), score.copy()

    @property
    def options(self) -> FaceOptions:
        """The wrapped detector's options, with this view's candidate threshold."""
        return replace(self.inner.options, candidate_threshold=self.min_score)

    def __getattr__(self, name: str) -> Any:
        # Anything else the pipeline asks of a face detector goes to it uncached.
        if name == "inner" or "inner" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.inner, name)


# --------------------------------------------------------------------------- scoring


@dataclass
class Score:
    """Leaks and over-redaction of one mode over a set of clips."""

    face_frames: int = 0
    leaked: int = 0
    longest: int = 0
    faces: int = 0
    leaking_faces: int = 0
    over: list[float] = field(default_factory=list)
    # extra over-redaction that each kind of region tracking adds causes alone, per frame
    over_added: dict[str, list[float]] = field(default_factory=dict)
    leaks: list[dict[str, Any]] = field(default_factory=list)  # one per leaked face-frame
    conditions: dict[str, list[int]] = field(default_factory=dict)  # name -> [frames, leaked]
    # every in-view face-frame: (clip, face, frame) -> (face size px, share of the box covered)
    covered: dict[tuple[str, int, int], tuple[float, float]] = field(default_factory=dict)

    @property
    def over_redaction(self) -> float:
        return float(np.mean(self.over)) if self.over else 0.0

    def add(self, other: Score) -> None:
        self.face_frames += other.face_frames
        self.leaked += other.leaked
        self.longest = max(self.longest, other.longest)
        self.faces += other.faces
        self.leaking_faces += other.leaking_faces
        self.over += other.over
        for k, v in other.over_added.items():
            self.over_added.setdefault(k, []).extend(v)
        self.leaks += other.leaks
        for k, (n, m) in other.conditions.items():
            c = self.conditions.setdefault(k, [0, 0])
            c[0] += n
            c[1] += m
        self.covered.update(other.covered)


ADDED = ("smoothed track box", "held after the last detection", "gap filled between detections",
         "hidden before the first detection", "low-score continuation")


def conditions_of(rec: dict[str, Any], since_occlusion: int | None) -> list[str]:
    out = []
    if rec["size"] < 32:
        out.append("small (< 32 px)")
    if rec["blur"] >= 4:
        out.append("motion blur >= 4 px")
    if rec["contrast"] < 0.8:
        out.append("low contrast")
    if since_occlusion is not None and since_occlusion <= 3:
        out.append("<= 3 frames after an occlusion")
    if rec.get("hidden", 0) > 0.05:
        out.append("partly occluded")
    return out or ["none of these"]


def score_frames(gt: dict[str, Any], regions: dict[int, list[Region]], spec,
                 clip: str, mask_scale: float, breakdown: bool = False,
                 masks: Callable[[int], np.ndarray] | None = None) -> Score:
    """Judge per-frame regions against ground truth records (all frames of one clip).

    With `masks`, frame t's covered pixels are masks(t) (called once per frame, in order)
    instead of the pixels the regions' operator replaces; `regions` may then be empty.
    """
    w, h = gt["width"], gt["height"]
    by_frame: dict[int, list[dict[str, Any]]] = {}
    for r in gt["boxes"]:
        by_frame.setdefault(r["frame"], []).append(r)
    sc = Score()
    runs: dict[Any, int] = {}
    last_hidden: dict[Any, int] = {}
    leaked_faces: set[Any] = set()
    seen_faces: set[Any] = set()
    for t in range(gt["frames"]):
        if masks is not None:
            mask = masks(t)
        elif t not in regions:
            raise RuntimeError(f"{clip}: no plan entry for frame {t}")
        else:
            mask = redaction_mask(h, w, regions[t], spec)
        outside = np.ones((h, w), bool)
        for r in by_frame.get(t, []):
            bw, bh = r["x2"] - r["x1"], r["y2"] - r["y1"]
            gx1, gy1 = int(max(0, r["x1"] - GROW * bw)), int(max(0, r["y1"] - GROW * bh))
            gx2 = int(min(w, r["x2"] + GROW * bw + 1))
            gy2 = int(min(h, r["y2"] + GROW * bh + 1))
            outside[gy1:gy2, gx1:gx2] = False
        sc.over.append(float(mask[outside].mean()) if outside.any() else 0.0)
        if breakdown and masks is None:
            added = [g for g in regions[t] if g.origin is Origin.TRACKED]
            raw = redaction_mask(h, w, [g for g in regions[t] if g.origin is not Origin.TRACKED],
                                 spec) if added else None
            for reason in ADDED:
                regs = [g for g in added if g.reason.startswith(reason)]
                v = 0.0
                if regs and outside.any():
                    v = float((redaction_mask(h, w, regs, spec) & ~raw)[outside].mean())
                sc.over_added.setdefault(reason, []).append(v)
        for r in by_frame.get(t, []):
            fid = r["face"]
            if not r["visible"]:
                last_hidden[fid] = t
                runs[fid] = 0  # a leak run is consecutive frames: an occlusion ends it
                continue
            seen_faces.add(fid)
            x1, y1, x2, y2 = span((r["x1"], r["y1"], r["x2"], r["y2"]), w, h)
            if x2 <= x1 or y2 <= y1:
                continue
            frac = float(mask[y1:y2, x1:x2].mean())
            sc.face_frames += 1
            sc.covered[(clip, fid, t)] = (float(r["size"]), frac)
            since = t - last_hidden[fid] if fid in last_hidden else None
            conds = conditions_of(r, since)
            leak = frac < COVER
            for c in conds:
                cnt = sc.conditions.setdefault(c, [0, 0])
                cnt[0] += 1
                cnt[1] += int(leak)
            if leak:
                sc.leaked += 1
                runs[fid] = runs.get(fid, 0) + 1
                sc.longest = max(sc.longest, runs[fid])
                leaked_faces.add(fid)
                gtb = np.array([[r["x1"], r["y1"], r["x2"], r["y2"]]])
                best, origin = 0.0, "none"
                for reg in regions.get(t, []):  # the closest region (unscaled to face size)
                    x_1, y_1, x_2, y_2 = reg.box
                    cx, cy = (x_1 + x_2) / 2, (y_1 + y_2) / 2
                    hw, hh = (x_2 - x_1) / 2 / mask_scale, (y_2 - y_1) / 2 / mask_scale
                    iou = float(iou_matrix(gtb, np.array([[cx - hw, cy - hh, cx + hw,
                                                          cy + hh]]))[0, 0])
                    if iou > best:
                        best, origin = iou, str(reg.origin)
                sc.leaks.append({"clip": clip, "face": fid, "frame": t, "covered": round(frac, 2),
                                 "box": [r["x1"], r["y1"], r["x2"], r["y2"]], "size": r["size"],
                                 "blur": r.get("blur", 0), "contrast": r.get("contrast", 1),
                                 "since_occlusion": since, "conditions": conds,
                                 "nearest_region": origin, "nearest_iou": round(best, 2),
                                 "run": runs[fid]})
            else:
                runs[fid] = 0
    sc.faces = len(seen_faces)
    sc.leaking_faces = len(leaked_faces)
    return sc


def plan_regions(plan: Plan) -> dict[int, list[Region]]:
    return {f.index: f.regions for f in plan.frames}


def changed_masks(src: Path, out: Path, threshold: int = CHANGED) -> Iterator[np.ndarray]:
    """Per frame, the pixels of `out` that differ from `src` by more than `threshold` in
    some channel, both decoded (faceless's reader). An output of another size is resized
    to the input's first. Fails when the output has fewer frames than the input."""
    outs = iter_frames(out)
    for t, vf in enumerate(iter_frames(src)):
        of = next(outs, None)
        if of is None:
            raise RuntimeError(f"{out} ends at frame {t}; {src} has more")
        a, b = vf.image, of.image
        if b.shape != a.shape:
            b = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)
        yield np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2) > threshold


def score_pixels(gt: dict[str, Any], src: Path, out: Path, clip: str,
                 threshold: int = CHANGED) -> Score:
    """score_frames with the pixels an anonymizer's output changed as the mask."""
    gen = changed_masks(src, out, threshold)
    return score_frames(gt, {}, None, clip, 1.0, masks=lambda t: next(gen))


# --------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class Mode:
    name: str
    options: Options


def parse_variant(text: str) -> Mode:
    """NAME:key=value,... with TrackOptions, FaceOptions and ScheduleOptions fields, mask_scale.

    `scales` takes '+'-separated values (scales=1+2). A FaceOptions change other than
    candidate_threshold (>= 0.02) runs the detector again on every frame.
    """
    name, _, body = text.partition(":")
    groups: dict[str, dict[str, Any]] = {"track": {}, "face": {}, "top": {}, "schedule": {}}
    known = {**{f.name: ("schedule", f.type) for f in fields(ScheduleOptions)},
             **{f.name: ("track", f.type) for f in fields(TrackOptions)},
             **{f.name: ("face", f.type) for f in fields(FaceOptions)
                if f.name not in ("model_path", "threads")},
             "mask_scale": ("top", "float")}
    for item in filter(None, body.split(",")):
        k, _, v = (x.strip() for x in item.partition("="))
        if k not in known:
            raise SystemExit(f"--variant {text!r}: unknown setting {k!r}")
        group, typ = known[k]
        if k == "scales":
            value: Any = tuple(float(x) for x in v.split("+"))
        elif k in ("merge", "precision"):
            value = v
        elif typ in (bool, "bool"):
            value = v.lower() in ("1", "true", "yes")
        else:
            value = int(v) if typ in (int, "int") else float(v)
        groups[group][k] = value
    top = dict(groups["top"])
    if groups["schedule"]:
        top["schedule"] = replace(ScheduleOptions(), **groups["schedule"])
    return Mode(name or text, Options(track=replace(TrackOptions(), **groups["track"]),
                                      face=replace(FaceOptions(), **groups["face"]), **top))


class Detectors:
    """One detector cache per distinct face setting (the candidate threshold aside)."""

    def __init__(self, store: dict, no_cache: bool = False) -> None:
        self.stats = {"calls": 0}
        self.no_cache = no_cache
        self.default_store = store
        self.pools: dict[FaceOptions, CachedDetector] = {}

    def __call__(self, mode: Mode) -> CachedDetector:
        face = mode.options.face
        if self.no_cache:
            return CachedDetector(face, stats=self.stats)
        key = replace(face, candidate_threshold=CACHE_FLOOR)
        if key not in self.pools:
            # One store per face setting (model and passes), all kept in --det-cache: a cache
            # made under another default model must not answer for this one.
            store = self.default_store.setdefault(("face options", repr(key)), {})
            self.pools[key] = CachedDetector(face, store=store, stats=self.stats)
        return self.pools[key].view(face.candidate_threshold)


def run_clip(mode: Mode, video: Path, det: CachedDetector, work: Path,
             render: bool) -> dict[int, list[Region]]:
    opts = replace(mode.options, overwrite=True)
    eng = Analyzer(opts, detectors=[det])
    if render:
        plan_path = work / f"{video.stem}.{mode.name}.plan.json"
        anonymize_file(video, work / f"{video.stem}.{mode.name}.mp4", analyzer=eng,
                       plan_path=plan_path)
        return plan_regions(Plan.load(plan_path))
    return plan_regions(detect_file(video, analyzer=eng))


@dataclass(frozen=True)
class Tool:
    """An anonymizer run as a command on each clip's video, judged by its output pixels.

    `deface [ARGS]` runs `deface IN -o OUT ARGS`; `faceless [ARGS]` runs
    `faceless run IN -o OUT -q --overwrite --hide face ARGS` (faces only, as the in-process
    modes, which load no plate detector; `--hide face,plate` after it puts plates back);
    anything else is a command line holding {in} and {out}. `{magenta}` in any argument is
    a 16x16 magenta PNG (for `deface --replacewith img --replaceimg {magenta}`: a fill no
    face pixel is near, where black leaves dark faces and black cloth masks unchanged).
    """

    name: str
    argv: tuple[str, ...]

    def command(self, src: Path, dst: Path) -> list[str]:
        prog, *extra = self.argv
        if any("{magenta}" in x for x in self.argv):
            png = dst.parent / "magenta.png"
            if not png.exists():
                Image.new("RGB", (16, 16), (255, 0, 255)).save(png)
            extra = [x.replace("{magenta}", str(png)) for x in extra]
        if prog == "deface":
            return [_program("deface"), str(src), "-o", str(dst), *extra]
        if prog == "faceless":
            return [_program("faceless"), "run", str(src), "-o", str(dst), "-q", "--overwrite",
                    "--hide", "face", *extra]
        return [x.replace("{in}", str(src)).replace("{out}", str(dst)) for x in [prog, *extra]]


def _program(name: str) -> str:
    """A console script beside this Python (the project's venv), else on PATH."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if found is None:
        raise SystemExit(f"--tool: {name} not found beside {sys.executable} or on PATH")
    return found


def parse_tool(text: str) -> Tool:
    argv = tuple(shlex.split(text))
    if not argv:
        raise SystemExit("--tool: empty")
    if argv[0] not in ("deface", "faceless") and not ("{in}" in text and "{out}" in text):
        raise SystemExit(f"--tool {text!r}: deface [ARGS], faceless [ARGS], or a command "
                         "with {in} and {out}")
    return Tool(" ".join(argv), argv)


def run_tool(tool: Tool, video: Path, dst: Path) -> float:
    """Run the tool on one video; wall time in seconds. Its output goes to dst.log."""
    dst.unlink(missing_ok=True)
    cmd = tool.command(video, dst)
    t0 = time.monotonic()
    with dst.with_suffix(".log").open("w") as log:
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL).returncode
    took = time.monotonic() - t0
    if rc != 0 or not dst.exists():
        tail = dst.with_suffix(".log").read_text()[-2000:]
        raise RuntimeError(f"{shlex.join(cmd)} failed (exit {rc}):\n{tail}")
    return took


def girl_data() -> tuple[list[np.ndarray], dict[str, Any]]:
    """The 500 frames (RGB) and ground truth in this script's record format."""
    frames = [np.asarray(Image.open(p).convert("RGB"))
              for p in sorted((GIRL / "img").glob("*.jpg"))]
    rows = [line for line in (GIRL / "groundtruth_rect.txt").read_text().splitlines()
            if line.strip()]
    h, w = frames[0].shape[:2]
    no_face = {t for a, b in GIRL_NO_FACE for t in range(a, b + 1)}
    boxes = []
    for t, line in enumerate(rows[: len(frames)]):
        x, y, bw, bh = (float(v) for v in re.split(r"[,\s]+", line.strip())[:4])
        x1, y1 = x - 1, y - 1  # OTB rectangles are 1-based
        boxes.append({"frame": t, "face": 0, "x1": x1, "y1": y1, "x2": x1 + bw, "y2": y1 + bh,
                      "visible": True, "size": max(bw, bh), "blur": 0, "contrast": 1,
                      "back_of_head": t in no_face})
    return frames, {"clip": "girl", "width": w, "height": h, "frames": len(frames),
                    "boxes": boxes}


def run_girl(mode: Mode, frames: list[np.ndarray], det: CachedDetector
             ) -> dict[int, list[Region]]:
    eng = Analyzer(mode.options, detectors=[det])
    tb = Fraction(1, FPS)
    vfs = (VideoFrame(f, FrameRef(i, i, tb)) for i, f in enumerate(frames))
    tracker = Tracker(mode.options.track) if mode.options.track is not None else None
    return {ref.index: regs for ref, regs, _ in VideoAnalysis(eng, tracker, False).run(vfs)}


# --------------------------------------------------------------------------- reporting


def table(rows: list[tuple[str, str, Score, Score | None]]) -> str:
    lines = ["| set | mode | faces | in-view face-frames | leaked face-frames | longest leak "
             "(frames) | faces that leak | over-redaction | over-redaction vs frame by frame |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, mode, s, base in rows:
        ratio = (f"{s.over_redaction / base.over_redaction:.2f}x"
                 if base is not None and base.over_redaction > 0 else "1.00x")
        leak_ratio = (f" ({s.leaked / base.leaked:.2f}x)" if base is not None and base.leaked
                      and s is not base else "")
        lines.append(f"| {name} | {mode} | {s.faces} | {s.face_frames} | "
                     f"**{s.leaked}** ({s.leaked / max(1, s.face_frames):.1%}){leak_ratio} | "
                     f"{s.longest} | {s.leaking_faces} | {s.over_redaction:.2%} | {ratio} |")
    return "\n".join(lines)


def condition_table(fbf: Score, trk: Score) -> str:
    lines = ["| condition (synthetic) | face-frames | leaked, frame by frame | leaked, tracking |",
             "|---|---|---|---|"]
    keys = sorted(set(fbf.conditions) | set(trk.conditions),
                  key=lambda k: (k == "none of these", k))
    for k in keys:
        n, a = fbf.conditions.get(k, [0, 0])
        _, b = trk.conditions.get(k, [0, 0])
        lines.append(f"| {k} | {n} | {a} ({a / max(1, n):.1%}) | {b} ({b / max(1, n):.1%}) |")
    return "\n".join(lines)


def added_table(fbf: Score, trk: Score, gfbf: Score | None, gtrk: Score | None) -> str:
    """Over-redaction of the raw detections, and what each kind of added region adds alone."""
    lines = ["| regions | synthetic | OTB Girl |", "|---|---|---|"]

    def cell(s: Score | None, key: str | None) -> str:
        if s is None:
            return "–"
        return f"{s.over_redaction:.2%}" if key is None else \
            f"+{float(np.mean(s.over_added.get(key, [0.0]))):.2%}"

    lines.append(f"| detections (frame by frame) | {cell(fbf, None)} | {cell(gfbf, None)} |")
    for key in ADDED:
        lines.append(f"| + {key} | {cell(trk, key)} | {cell(gtrk, key)} |")
    lines.append(f"| all (tracking) | {cell(trk, None)} | {cell(gtrk, None)} |")
    return "\n".join(lines)


def clip_table(per_clip: list[tuple[str, dict[str, Any], Score, Score]]) -> str:
    lines = ["| clip | size | faces (px range, path) | leaked fbf / tracking | longest fbf / "
             "tracking | over-redaction fbf / tracking |", "|---|---|---|---|---|---|"]
    for name, gt, a, b in per_clip:
        faces = ", ".join(f"{f['size_px'][0]}-{f['size_px'][1]} {f['path']}"
                          for f in gt["faces"])
        lines.append(f"| {name} | {gt['width']}x{gt['height']} | {faces} | {a.leaked} / "
                     f"{b.leaked} | {a.longest} / {b.longest} | {a.over_redaction:.2%} / "
                     f"{b.over_redaction:.2%} |")
    return "\n".join(lines)


def targets(syn: tuple[Score, Score], girl: tuple[Score, Score] | None) -> str:
    out = []
    a, b = syn
    ok = b.leaked * 3 <= a.leaked
    out.append(f"- synthetic: tracking leaks {b.leaked} face-frames vs {a.leaked} frame by frame "
               f"({b.leaked / max(1, a.leaked):.2f}x; target <= 0.33x): "
               f"{'met' if ok else 'NOT met'}")
    ok = b.longest <= 2
    out.append(f"- synthetic: longest leak with tracking {b.longest} frames (target <= 2): "
               f"{'met' if ok else 'NOT met'}")
    r = b.over_redaction / a.over_redaction if a.over_redaction else float("inf")
    out.append(f"- synthetic: over-redaction {b.over_redaction:.2%} vs {a.over_redaction:.2%} "
               f"({r:.2f}x; target <= 1.5x): {'met' if r <= 1.5 else 'NOT met'}")
    if girl is not None:
        a, b = girl
        ok = b.leaked * 3 <= a.leaked
        out.append(f"- Girl: tracking leaks {b.leaked} face-frames vs {a.leaked} frame by frame "
                   f"({b.leaked / max(1, a.leaked):.2f}x; target <= 0.33x): "
                   f"{'met' if ok else 'NOT met'}")
        fa = sum(not lk["back_of_head"] for lk in a.leaks)
        fb = sum(not lk["back_of_head"] for lk in b.leaks)
        out.append(f"- Girl, frames where a face shows (back-of-head frames left out): "
                   f"{fb} vs {fa} ({fb / max(1, fa):.2f}x): {'met' if fb * 3 <= fa else 'NOT met'}")
        r = b.over_redaction / a.over_redaction if a.over_redaction else float("inf")
        out.append(f"- Girl: over-redaction {b.over_redaction:.2%} vs {a.over_redaction:.2%} "
                   f"({r:.2f}x)")
    return "\n".join(out)


def contact_sheet(leaks: list[dict[str, Any]], videos: dict[str, Path],
                  regions: dict[str, dict[int, list[Region]]], spec, path: Path,
                  show_faces: bool, tile: int = 112, limit: int = 32) -> None:
    """Remaining leaks: the frame as faceless renders it (mask applied), the labelled box in
    red and the mask's outline in yellow. Unless show_faces, the unmasked part of the face box
    is pixelated to 3x3 cells: the picture shows where the mask was, not who leaked."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for lk in sorted(leaks, key=lambda r: (r["clip"], r["face"], r["frame"])):
        groups.setdefault((lk["clip"], lk["face"]), []).append(lk)
    per = max(2, limit // max(1, len(groups)))  # an even sample of every leaking face
    leaks = [g[round(i * (len(g) - 1) / max(1, min(per, len(g)) - 1))]
             for g in groups.values() for i in range(min(per, len(g)))][:limit]
    if not leaks:
        Image.new("RGB", (tile * 2, 24), "white").save(path)
        return
    need: dict[str, set[int]] = {}
    for lk in leaks:
        need.setdefault(lk["clip"], set()).add(lk["frame"])
    images: dict[tuple[str, int], np.ndarray] = {}
    for clip, idx in need.items():
        for vf in iter_frames(videos[clip]):
            if vf.ref.index in idx:
                images[(clip, vf.ref.index)] = vf.image
    cols = min(8, len(leaks))
    rows = -(-len(leaks) // cols)
    sheet = Image.new("RGB", (cols * tile, rows * (tile + 14)), "white")
    draw = ImageDraw.Draw(sheet)
    eng = Analyzer(Options(), detectors=[])
    for i, lk in enumerate(leaks):
        img = images[(lk["clip"], lk["frame"])]
        h, w = img.shape[:2]
        regs = regions[lk["clip"]][lk["frame"]]
        out = Redactor(eng.options.specs(spec)).hide(img, regs)
        mask = redaction_mask(h, w, regs, spec)
        x1, y1, x2, y2 = span(tuple(lk["box"]), w, h)
        if not show_faces and x2 > x1 and y2 > y1:
            patch = out[y1:y2, x1:x2]
            small = cv2.resize(patch, (3, 3), interpolation=cv2.INTER_AREA)
            pix = cv2.resize(small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST)
            keep = mask[y1:y2, x1:x2]
            out[y1:y2, x1:x2] = np.where(keep[..., None], patch, pix)
        edge = mask ^ cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        out[edge] = (255, 220, 0)
        side = max(x2 - x1, y2 - y1) * 2.2
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        cx1, cy1 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
        cx2, cy2 = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
        crop = Image.fromarray(out[cy1:cy2, cx1:cx2])
        d = ImageDraw.Draw(crop)
        d.rectangle([x1 - cx1, y1 - cy1, x2 - cx1 - 1, y2 - cy1 - 1], outline=(255, 0, 0))
        k = tile / max(crop.size)
        crop = crop.resize((max(1, round(crop.width * k)), max(1, round(crop.height * k))),
                           Image.NEAREST if k > 1 else Image.BILINEAR)
        X, Y = (i % cols) * tile, (i // cols) * (tile + 14)
        sheet.paste(crop, (X, Y))
        tag = " occ" if "<= 3 frames after an occlusion" in lk["conditions"] else ""
        tag += " lc" if lk["contrast"] < 0.8 else ""
        draw.text((X + 2, Y + tile), f"{lk['clip'][:5]}:{lk['face']} #{lk['frame']} "
                  f"{lk['size']:.0f}/{lk['blur']:.0f}{tag}", fill=(0, 0, 0))
    sheet.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def girl_sheet(frames: list[np.ndarray], gt: dict[str, Any], leaks: dict[str, list[dict]],
               path: Path) -> None:
    """Every leaked Girl frame (2x), labelled with the modes that leak it; for judging by eye."""
    by_frame: dict[int, list[str]] = {}
    for mode, lks in leaks.items():
        for lk in lks:
            by_frame.setdefault(lk["frame"], []).append(mode[:3])
    idx = sorted(by_frame)
    cols = 12
    tw, th = 128, 96 + 12
    sheet = Image.new("RGB", (cols * tw, max(1, -(-len(idx) // cols)) * th), "white")
    draw = ImageDraw.Draw(sheet)
    for i, t in enumerate(idx):
        im = Image.fromarray(frames[t])
        b = gt["boxes"][t]
        ImageDraw.Draw(im).rectangle([b["x1"], b["y1"], b["x2"] - 1, b["y2"] - 1],
                                     outline=(255, 0, 0))
        X, Y = (i % cols) * tw, (i // cols) * th
        sheet.paste(im, (X, Y))
        draw.text((X + 2, Y + 96), f"{t} {'/'.join(by_frame[t])}", fill=(0, 0, 0))
    sheet.save(path)


def select_clips(text: str) -> list[ClipSpec]:
    """Comma-separated clip names and set names (default, hd), in the order given."""
    out: list[ClipSpec] = []
    every = {c.name: c for c in CLIPS + HD_CLIPS}
    for item in filter(None, (x.strip() for x in text.split(","))):
        add = CLIP_SETS.get(item) or ((every[item],) if item in every else None)
        if add is None:
            raise SystemExit(f"--clips: unknown clip or set {item!r}")
        out += [c for c in add if c not in out]
    return out


def set_label(specs: list[ClipSpec]) -> str:
    if all(c in CLIPS for c in specs):
        return "synthetic"
    if all(c in HD_CLIPS for c in specs):
        return "synthetic HD"
    return "synthetic (default + HD)"


def pixel_note(changed: int = CHANGED) -> str:
    return ("Rows in backticks are commands run on each clip's video; rows marked \"output "
            "pixels\" are the videos the in-process modes rendered. Both are judged by what "
            "changed: a pixel is changed when a channel differs by more than "
            f"{changed} between the decoded input and the decoded output (an output of another "
            "size is resized back first), and a face is covered in a frame when >= 70% of its "
            "box changed. Over-redaction is the changed share of the pixels outside every "
            "labelled box grown 20% per side. Blurring a flat, dark or low-contrast face "
            "changes fewer of its pixels than masking it, so a pixel row can leak where the "
            "same run's mask row does not.")


def all_clip_table(all_clip: list[tuple[str, dict[str, Any], dict[str, Score]]],
                   names: list[str]) -> str:
    lines = ["| clip | size | mode or tool | leaked face-frames | longest leak | faces that leak "
             "| over-redaction |", "|---|---|---|---|---|---|---|"]
    for clip, gt, scores in all_clip:
        for k in names:
            if k in scores:
                s = scores[k]
                lines.append(f"| {clip} | {gt['width']}x{gt['height']} | {k} | {s.leaked} / "
                             f"{s.face_frames} | {s.longest} | {s.leaking_faces} / {s.faces} | "
                             f"{s.over_redaction:.2%} |")
    return "\n".join(lines)


SIZE_BINS = (0, 32, 64, 128, 10 ** 6)


def size_table(scores: dict[str, Score], names: list[str]) -> str:
    bins = list(itertools.pairwise(SIZE_BINS))
    heads = [f"< {b} px" if a == 0 else f">= {a} px" if b == SIZE_BINS[-1] else f"{a}-{b} px"
             for a, b in bins]
    first = scores[names[0]].covered.values()
    counts = [sum(a <= z < b for z, _ in first) for a, b in bins]
    lines = ["| mode or tool | " + " | ".join(f"{h} ({n} face-frames)"
                                            for h, n in zip(heads, counts, strict=True)) + " |",
             "|---|" + "---|" * len(bins)]
    for k in names:
        if k not in scores:
            continue
        cells = []
        for a, b in bins:
            got = [f for z, f in scores[k].covered.values() if a <= z < b]
            n = sum(f < COVER for f in got)
            cells.append(f"{n} ({n / max(1, len(got)):.1%})")
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def time_table(times: dict[str, dict[str, float]],
               all_clip: list[tuple[str, dict[str, Any], dict[str, Score]]]) -> str:
    clips = [(c, gt) for c, gt, _ in all_clip]
    lines = ["| tool | " + " | ".join(f"{c} ({gt['width']}x{gt['height']})" for c, gt in clips)
             + " | all clips |", "|---|" + "---|" * (len(clips) + 1)]
    for k, per in times.items():
        cells = [f"{per[c]:.1f} s ({gt['frames'] / per[c]:.1f} fps)" for c, gt in clips]
        total = sum(per.values())
        frames = sum(gt["frames"] for _, gt in clips)
        lines.append(f"| `{k}` | " + " | ".join(cells) +
                     f" | {total:.0f} s ({frames / total:.1f} fps) |")
    return "\n".join(lines)


def agreement(all_clip: list[tuple[str, dict[str, Any], dict[str, Score]]], mode: str,
              tools: list[Tool]) -> str:
    """The default tracking run in process (its mask, and its rendered video's pixels) beside
    each `faceless` command, face-frame by face-frame."""
    clis = [t.name for t in tools if t.argv[0] == "faceless"]
    if not clis:
        return ""
    rendered = f"{mode}, output pixels"
    lines = ["| clip | judged by | leaked face-frames | verdicts that differ from the "
             "in-process mask | verdicts that differ from the rendered video | over-redaction |",
             "|---|---|---|---|---|---|"]

    def differ(x: Score, y: Score | None) -> str:
        if y is None:
            return "–"
        return str(sum((x.covered[k][1] >= COVER) != (y.covered[k][1] >= COVER)
                       for k in x.covered))

    total: dict[str, Score] = {}
    for clip, _gt, scores in [*all_clip, ("all", {}, total)]:
        if clip == "all":
            for name in [mode, rendered, *clis]:
                total[name] = Score()
                for _, _, sc in all_clip:
                    if name in sc:
                        total[name].add(sc[name])
            if rendered not in scores or not total[rendered].covered:
                scores.pop(rendered, None)
        m, r = scores[mode], scores.get(rendered)
        lines.append(f"| {clip} | in-process `{mode}` mask | {m.leaked} / {m.face_frames} | "
                     f"0 | {differ(m, r)} | {m.over_redaction:.2%} |")
        if r is not None:
            lines.append(f"| {clip} | its rendered video | {r.leaked} | {differ(m, r)} | 0 | "
                         f"{r.over_redaction:.2%} |")
        for name in clis:
            c = scores[name]
            lines.append(f"| {clip} | `{name}` | {c.leaked} | {differ(m, c)} | "
                         f"{differ(r, c) if r is not None else '–'} | "
                         f"{c.over_redaction:.2%} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--frames", type=int, default=150, help="frames per clip")
    ap.add_argument("--clips", default="default",
                    help="comma-separated clip names or sets: default (" +
                         ", ".join(c.name for c in CLIPS) + "), hd (" +
                         ", ".join(c.name for c in HD_CLIPS) + ")")
    ap.add_argument("--out", type=Path, default=Path("/tmp/faceless-temporal"),
                    help="work folder: clips, ground truth, plans, rendered outputs")
    ap.add_argument("--reuse", action="store_true",
                    help="reuse clips already in --out made with the same seed and length")
    ap.add_argument("--no-girl", action="store_true", help="skip the OTB Girl sequence")
    ap.add_argument("--no-render", action="store_true",
                    help="plans only (detect_file), no anonymized videos written")
    ap.add_argument("--no-cache", action="store_true",
                    help="run the detector for every mode instead of once per frame")
    ap.add_argument("--det-cache", type=Path,
                    help="keep the detector's output per frame in this file between runs "
                         "(a pickle; only load one this script wrote)")
    ap.add_argument("--variant", action="append", default=[],
                    help="extra tracking mode NAME:key=value,... (TrackOptions and "
                         "FaceOptions fields, mask_scale; scales=1+2); repeatable")
    ap.add_argument("--tool", action="append", default=[],
                    help="also run this anonymizer on each clip and judge its output pixels: "
                         "'deface [ARGS]', 'faceless [ARGS]' or a command with {in} and {out}; "
                         "repeatable")
    ap.add_argument("--changed", type=int, default=CHANGED,
                    help=f"--tool: a pixel is changed when a channel moved more than this "
                         f"(default {CHANGED})")
    ap.add_argument("--markdown", type=Path, help="write the tables to this file")
    ap.add_argument("--json", type=Path, help="write every figure and leak to this file")
    ap.add_argument("--sheet", type=Path, help="contact sheet PNG of the leaks left by tracking")
    ap.add_argument("--sheet-faces", action="store_true",
                    help="leave the leaked faces visible in --sheet (for a local look only)")
    ap.add_argument("--girl-sheet", type=Path, help="contact sheet PNG of leaked Girl frames")
    a = ap.parse_args()
    t_start = time.monotonic()
    specs = select_clips(a.clips)
    tools = [parse_tool(t) for t in a.tool]
    if not FACES.exists() or not VIDEOS.exists():
        print(f"needs {DATA} (the shared folder beside the repository)", file=sys.stderr)
        return 2
    a.out.mkdir(parents=True, exist_ok=True)
    gts = [a.out / f"{c.name}.json" for c in specs]

    def reusable(p: Path) -> bool:
        if not (p.exists() and p.with_suffix(".mp4").exists()):
            return False
        head = json.loads(p.read_text())
        return (head.get("seed"), head.get("frames")) == (a.seed, a.frames)

    if not (a.reuse and all(reusable(p) for p in gts)):
        t0 = time.monotonic()
        gts = generate(specs, a.frames, a.seed, a.out)
        print(f"generated {len(gts)} clips in {time.monotonic() - t0:.0f}s", file=sys.stderr)
    work = a.out / "runs"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()

    modes = [Mode("frame by frame", Options(track=None)), Mode("tracking", Options())]
    modes += [parse_variant(v) for v in a.variant]
    store: dict = {}
    if a.det_cache and a.det_cache.exists():
        with a.det_cache.open("rb") as f:
            store = pickle.load(f)
    detectors = Detectors(store, a.no_cache)
    syn: dict[str, Score] = {m.name: Score() for m in modes}
    per_clip = []
    # Judged by output pixels: the tools, and (rendered runs) the in-process modes' videos.
    pixel_rows = ([f"{m.name}, output pixels" for m in modes[:2] if not a.no_render]
                  + [t.name for t in tools]) if tools else []
    pix: dict[str, Score] = {k: Score() for k in pixel_rows}
    times: dict[str, dict[str, float]] = {t.name: {} for t in tools}
    all_clip: list[tuple[str, dict[str, Any], dict[str, Score]]] = []
    regions_by_mode: dict[str, dict[str, dict[int, list[Region]]]] = {m.name: {} for m in modes}
    videos: dict[str, Path] = {}
    for gpath in gts:
        gt = json.loads(gpath.read_text())
        video = gpath.with_name(gt["video"])
        videos[gt["clip"]] = video
        scores = {}
        for i, m in enumerate(modes):
            t0 = time.monotonic()
            regs = run_clip(m, video, detectors(m), work, render=i < 2 and not a.no_render)
            regions_by_mode[m.name][gt["clip"]] = regs
            s = score_frames(gt, regs, m.options.operator, gt["clip"], m.options.mask_scale,
                             breakdown=i == 1)
            scores[m.name] = s
            syn[m.name].add(s)
            print(f"{gt['clip']:10s} {m.name:16s} leaked {s.leaked:4d}/{s.face_frames} "
                  f"longest {s.longest:3d} over {s.over_redaction:.3%} "
                  f"({time.monotonic() - t0:.0f}s)", file=sys.stderr)
            if f"{m.name}, output pixels" in pix:
                s = score_pixels(gt, video, work / f"{video.stem}.{m.name}.mp4", gt["clip"],
                                 a.changed)
                scores[f"{m.name}, output pixels"] = s
                pix[f"{m.name}, output pixels"].add(s)
        for j, tool in enumerate(tools):
            dst = work / f"{video.stem}.tool{j}.mp4"
            took = run_tool(tool, video, dst)
            times[tool.name][gt["clip"]] = took
            s = score_pixels(gt, video, dst, gt["clip"], a.changed)
            scores[tool.name] = s
            pix[tool.name].add(s)
            print(f"{gt['clip']:10s} {tool.name:16s} leaked {s.leaked:4d}/{s.face_frames} "
                  f"longest {s.longest:3d} over {s.over_redaction:.3%} ({took:.0f}s)",
                  file=sys.stderr)
        per_clip.append((gt["clip"], gt, scores[modes[0].name], scores[modes[1].name]))
        all_clip.append((gt["clip"], gt, scores))

    girl: dict[str, Score] = {}
    girl_frames, girl_gt = None, None
    if not a.no_girl and GIRL.exists():
        girl_frames, girl_gt = girl_data()
        for i, m in enumerate(modes):
            t0 = time.monotonic()
            regs = run_girl(m, girl_frames, detectors(m))
            s = score_frames(girl_gt, regs, m.options.operator, "girl", m.options.mask_scale,
                             breakdown=i == 1)
            for lk in s.leaks:
                lk["back_of_head"] = girl_gt["boxes"][lk["frame"]]["back_of_head"]
            girl[m.name] = s
            print(f"girl       {m.name:16s} leaked {s.leaked:4d}/{s.face_frames} longest "
                  f"{s.longest:3d} over {s.over_redaction:.3%} ({time.monotonic() - t0:.0f}s)",
                  file=sys.stderr)

    if a.det_cache:
        with a.det_cache.open("wb") as f:
            pickle.dump(store, f)
    fbf, trk = modes[0].name, modes[1].name
    rows: list[tuple[str, str, Score, Score | None]] = []
    label = set_label(specs)
    for m in modes:
        rows.append((label, m.name, syn[m.name], syn[fbf]))
    for k in pixel_rows:
        rows.append((label, f"`{k}`" if k in times else k, pix[k], syn[fbf]))
    for m in modes:
        if m.name in girl:
            rows.append(("OTB Girl", m.name, girl[m.name], girl[fbf]))
    text = ["## Results", "", table(rows), "",
            "Leaked face-frames: in-view labelled face-frames with < 70% of the box masked; in "
            "brackets, the ratio to frame by frame. Longest leak: consecutive frames one face "
            "stays uncovered while in view. Over-redaction: masked share of the pixels outside "
            "every labelled box grown 20% per side, averaged over frames.", "",
            "## Targets", "", targets((syn[fbf], syn[trk]),
                                      (girl[fbf], girl[trk]) if girl else None), "",
            "## Per clip", "", clip_table(per_clip), "",
            "## Leaks by condition (synthetic)", "", condition_table(syn[fbf], syn[trk]), "",
            "## Where tracking's extra over-redaction comes from", "",
            added_table(syn[fbf], syn[trk], girl.get(fbf), girl.get(trk)), ""]
    if pixel_rows:
        text += ["## Peers judged by output pixels", "",
                 pixel_note(a.changed), "", "### Per clip", "",
                 all_clip_table(all_clip, [m.name for m in modes] + pixel_rows), "",
                 "### Leaked face-frames by face size", "",
                 size_table({**syn, **pix}, [m.name for m in modes] + pixel_rows), "",
                 "### Wall time of each tool", "", time_table(times, all_clip), ""]
        agree = agreement(all_clip, trk, tools)
        if agree:
            text += ["### In-process faceless vs `--tool faceless`", "", agree, ""]
    elif any(c in HD_CLIPS for c in specs):
        text += ["## Leaked face-frames by face size", "",
                 size_table(syn, [m.name for m in modes]), ""]
    if girl:
        gb = [lk for lk in girl[trk].leaks if lk["back_of_head"]]
        ga = [lk for lk in girl[fbf].leaks if lk["back_of_head"]]
        text += ["## Girl: back-of-head frames", "",
                 f"Frames {', '.join(f'{x}-{y}' for x, y in GIRL_NO_FACE)} (0-based; "
                 f"{sum(y - x + 1 for x, y in GIRL_NO_FACE)} frames) show the back of her head "
                 f"(judged by eye). Of the leaked frames, {len(ga)} of {girl[fbf].leaked} (frame "
                 f"by frame) and {len(gb)} of {girl[trk].leaked} (tracking) are among them.", ""]
    origins: dict[str, int] = {}
    for lk in syn[trk].leaks:
        origins[lk["nearest_region"]] = origins.get(lk["nearest_region"], 0) + 1
    text += ["Nearest region to each leak left by tracking: "
             + ", ".join(f"{k}: {v}" for k, v in sorted(origins.items())), ""]
    elapsed = time.monotonic() - t_start
    text += [f"Run: {elapsed:.0f}s on {os.cpu_count()} cores ({cpu_model()}); the detector ran "
             f"{detectors.stats['calls']} times"
             f"{' (no cache)' if a.no_cache else ' (once per distinct frame)'}"
             + (f", {detectors.stats['detect_at']} of them single passes (`detect_at`, once "
                f"per distinct image, scale and threshold)" if detectors.stats.get("detect_at")
                else "") + ".", ""]
    if times:
        text += ["Tools ran as separate processes, one at a time, while nothing else of this "
                 "script ran; their wall times include starting up and writing the video.", ""]
    out = "\n".join(text)
    print(out)
    if a.markdown:
        a.markdown.write_text(out)
    if a.json:
        a.json.write_text(json.dumps({
            "synthetic": {k: {**{f: getattr(v, f) for f in ("face_frames", "leaked", "longest",
                                                          "faces", "leaking_faces")},
                              "over_redaction": v.over_redaction, "leaks": v.leaks}
                          for k, v in syn.items()},
            "pixels": {k: {**{f: getattr(v, f) for f in ("face_frames", "leaked", "longest",
                                                       "faces", "leaking_faces")},
                           "over_redaction": v.over_redaction, "leaks": v.leaks,
                           "seconds": times.get(k)}
                       for k, v in pix.items()},
            "girl": {k: {"face_frames": v.face_frames, "leaked": v.leaked, "longest": v.longest,
                         "over_redaction": v.over_redaction, "leaks": v.leaks}
                     for k, v in girl.items()},
        }, indent=1))
    if a.sheet:
        contact_sheet(syn[trk].leaks, videos, regions_by_mode[trk], modes[1].options.operator,
                      a.sheet, a.sheet_faces)
    if a.girl_sheet and girl_frames is not None:
        girl_sheet(girl_frames, girl_gt, {m: s.leaks for m, s in girl.items()}, a.girl_sheet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
