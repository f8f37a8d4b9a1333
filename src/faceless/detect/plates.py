"""Licence-plate detector: text lines that look like plates, grown to cover the whole plate.

Plates are found as text first (PP-OCRv4 detection, through `TextDetector`); each text line
is then judged by what a plate looks like:

1. its shape: long/short side ratio, tilt and height (`line_shape_ok`);
2. what it says: the PP-OCRv4 recogniser reads the line and `plate_text_score` says whether
   the string is plate-like (a few letters and digits, separators ignored, up to two CJK
   characters as on Chinese plates). The string lives only inside that call: the recogniser
   hands it to the rule and keeps the rule's number, so no plate text reaches a result, a log
   record or an exception;
3. what surrounds it: `plate_background` looks for the plate itself, a uniform rectangle of
   the characters' background colour that ends a little beyond them (a badge on a car body or
   a word on a wall has a background that runs on). A line that reads as letters only (a
   vanity plate, or a misread digit) needs that rectangle to count.

A plate's box is the union of the line grown by `grow_x` / `grow_up` / `grow_down` (plates
carry a state or city name above the number and a slogan below), the plate rectangle when
one was found, and the other text lines that lie inside the plate.

One module, over the usual size: the three tests, the plate rectangle and the options they
share are one decision, read and tuned together.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from faceless.core.errors import ConfigError
from faceless.core.geometry import iou_matrix
from faceless.core.types import Detections, Kind
from faceless.detect.base import ModelCard, ScaledDetector
from faceless.detect.boxes import NESTED, merge_union
from faceless.detect.ocr import Recognizer, Rule, TextBoxes, order_corners
from faceless.detect.text import TextDetector, TextOptions, check_image

log = logging.getLogger(__name__)

PLATE_LIKE = 1.0  # letters and digits, as on nearly every plate
LETTERS_ONLY = 0.5  # a vanity plate, a misread digit, or just a word
NOT_PLATE = 0.0

def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


# Burned-in camera clocks read like plates (all digits and dashes); no plate prints a
# colon-separated time or a year-month-day date.
_CLOCK = re.compile(r"(?<![^\W_])(\d{1,2}\s*:\s*\d{2}(\s*:\s*\d{2})?"
                    r"|(19|20)\d{2}\s*[-./]\s*\d{1,2}\s*[-./]\s*\d{1,2}"
                    r"|\d{1,2}\s*[-./]\s*\d{1,2}\s*[-./]\s*(19|20)\d{2})(?![^\W_])")


# The same clocks and dates read without their separators: a colon is often read as an 8 (or
# dropped) and a dash dropped, leaving HH8MM8SS, HH8MM, YYYYMMDD or DDMMYYYY digits.
_HH, _MS = r"([01]\d|2[0-3])", r"[0-5]\d"
_YEAR, _MONTH, _DAY = r"(19|20)\d{2}", r"(0[1-9]|1[0-2])", r"(0[1-9]|[12]\d|3[01])"
_CLOCK_DIGITS = re.compile(
    rf"{_HH}8{_MS}8{_MS}|{_HH}8{_MS}"  # 12:34:56 read as 12834856, 12:34 as 12834
    rf"|{_YEAR}{_MONTH}{_DAY}|{_DAY}{_MONTH}{_YEAR}|{_MONTH}{_DAY}{_YEAR}")


def plate_text_score(text: str, min_chars: int = 4, max_chars: int = 10) -> float:
    """How plate-like a recognised string is: PLATE_LIKE, LETTERS_ONLY or NOT_PLATE.

    Everything that is not a letter or a digit is dropped first: plates print dashes, dots
    and spaces between groups, and OCR reads bolts, emblems and frame edges as punctuation.
    What is left must be `min_chars` to `max_chars` characters, at most two of them CJK (a
    Chinese plate's province; OCR also reads an emblem as one). With at least one digit it is
    PLATE_LIKE, with letters only LETTERS_ONLY (a vanity plate, a misread digit, or a word);
    anything else NOT_PLATE, and so is a date or a clock time (camera timestamps), also when
    the separators were dropped or a colon read as an 8 (all digits: HH8MM8SS, HH8MM,
    YYYYMMDD, DDMMYYYY, MMDDYYYY: a few all-digit plates fit these too, and are left to the
    text detector).
    """
    text = unicodedata.normalize("NFKC", text)
    if _CLOCK.search(text):
        return NOT_PLATE
    chars = [c for c in text.upper()
             if unicodedata.category(c)[0] in "LN"]
    if not min_chars <= len(chars) <= max_chars:
        return NOT_PLATE
    if all("0" <= c <= "9" for c in chars) and _CLOCK_DIGITS.fullmatch("".join(chars)):
        return NOT_PLATE  # a burned-in clock or date read without its separators
    cjk = sum(_is_cjk(c) for c in chars)
    if cjk > 2 or len(chars) - cjk < min_chars - 1:  # a province and 3 letters: not yet
        return NOT_PLATE
    return PLATE_LIKE if any("0" <= c <= "9" for c in chars) else LETTERS_ONLY


@dataclass(frozen=True)
class PlateOptions:
    """How text lines are judged to be plates and grown to the plate's edges."""

    text: TextOptions = field(default_factory=TextOptions)
    min_aspect: float = 1.2  # long / short side of the (unclipped) text line
    max_aspect: float = 8.0  # well above plates' own lines (docs/decisions)
    max_tilt: float = 40.0  # degrees from horizontal
    min_height: float = 8.0  # px: shorter lines cannot be read (the text detector still hides them)
    min_chars: int = 4
    max_chars: int = 10
    letters_only: bool = True  # accept letter-only lines that sit on a plate-like rectangle
    grow_x: float = 0.1  # share of the line's length added at each end
    grow_up: float = 0.3  # share of the line's height added above ...
    grow_down: float = 0.2  # ... and below
    absorb: bool = True  # other text lines inside the plate join it
    # Text regions the line rule rejects are searched for a plate-shaped region (light or
    # dark, any tilt), which is read upright (`plate_rects`); regions larger than this share
    # of the frame are not searched.
    plate_rects: bool = True
    rect_max_area: float = 0.05
    merge_iou: float = 0.3
    rec_model_path: Path | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.text, TextOptions):
            raise ConfigError(f"text must be TextOptions, got {type(self.text).__name__}")
        if not 1.0 <= self.min_aspect < self.max_aspect:
            raise ConfigError(f"need 1 <= min_aspect < max_aspect, got {self.min_aspect}, "
                              f"{self.max_aspect}")
        if not 0.0 <= self.max_tilt <= 90.0:
            raise ConfigError(f"max_tilt must lie in [0, 90] degrees, got {self.max_tilt}")
        if self.min_height < 0:
            raise ConfigError(f"min_height must be >= 0, got {self.min_height}")
        if not 1 <= self.min_chars <= self.max_chars:
            raise ConfigError(f"need 1 <= min_chars <= max_chars, got {self.min_chars}, "
                              f"{self.max_chars}")
        for name in ("grow_x", "grow_up", "grow_down"):
            if not 0.0 <= getattr(self, name) <= 3.0:
                raise ConfigError(f"{name} must lie in [0, 3], got {getattr(self, name)}")
        if not 0.0 < self.merge_iou <= 1.0:
            raise ConfigError(f"merge_iou must lie in (0, 1], got {self.merge_iou}")
        if not 0.0 < self.rect_max_area <= 1.0:
            raise ConfigError(f"rect_max_area must lie in (0, 1], got {self.rect_max_area}")


def line_geometry(quad: np.ndarray) -> tuple[float, float, float]:
    """Width along the line, height across it, and tilt from horizontal in degrees."""
    tl, tr, _, bl = order_corners(quad)
    top, left = tr - tl, bl - tl
    w, h = float(np.hypot(*top)), float(np.hypot(*left))
    if h > w:  # the long side is the line's direction
        w, h, top = h, w, left
    tilt = abs(float(np.degrees(np.arctan2(top[1], top[0]))))
    return w, h, min(tilt, 180.0 - tilt)


def line_shape_ok(width: float, height: float, tilt: float, options: PlateOptions) -> bool:
    """Whether a text line has the shape of a plate's characters."""
    if height <= 0 or height < options.min_height:
        return False
    aspect = width / height
    return options.min_aspect <= aspect <= options.max_aspect and tilt <= options.max_tilt


def grow_line(quad: np.ndarray, options: PlateOptions) -> np.ndarray:
    """A plate's character line (corners (4, 2)) grown, along its own axes, to where the
    plate's edges usually are: `grow_x` of its length on each end, `grow_up` of its height
    above and `grow_down` below."""
    tl, tr, br, bl = order_corners(quad)
    u, v = tr - tl, bl - tl
    if np.hypot(*v) > np.hypot(*u):  # a line standing on end: its length runs along v
        tl, tr, br, bl = bl, tl, tr, br
        u, v = tr - tl, bl - tl
    a = tl - options.grow_x * u - options.grow_up * v
    b = tr + options.grow_x * u - options.grow_up * v
    c = br + options.grow_x * u + options.grow_down * v
    d = bl - options.grow_x * u + options.grow_down * v
    return np.array([a, b, c, d], np.float32)


# A plate rectangle, relative to the text line: this much wider and taller (at most).
_PLATE_REL_W = (0.8, 2.0)
_PLATE_REL_H = (0.8, 4.0)
_WINDOW = (2.2, 5.0)  # the window searched around a line, in line widths and heights
_LINE_PX = 32  # the window is resampled so that the line is this many px high


def plate_background(image: np.ndarray, quad: np.ndarray) -> np.ndarray | None:
    """The plate under a text line: corners (4, 2) of a bounded uniform rectangle, or None.

    Resamples a window around the line (upright, line 32 px high), takes the characters'
    background colour (the majority class of an Otsu split of the line's lightness), and
    follows the connected region of that colour (CIELAB distance) from under the characters.
    A plate's background stops at its edge within a plate's size of the characters; a car
    body, a wall or the sky runs on to the window's border.
    """
    tl, tr, br, bl = order_corners(quad)
    u, v = tr - tl, bl - tl
    lw, lh = float(np.hypot(*u)), float(np.hypot(*v))
    if lw < 2 or lh < 2:
        return None
    sx, sy = _WINDOW
    centre = (tl + tr + br + bl) / 4
    origin = centre - u * sx / 2 - v * sy / 2
    src = np.array([origin, origin + u * sx, origin + u * sx + v * sy, origin + v * sy],
                   np.float32)
    k = _LINE_PX / lh
    ww, wh = max(8, round(lw * sx * k)), max(8, round(lh * sy * k))
    dst = np.array([[0, 0], [ww, 0], [ww, wh], [0, wh]], np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    win = cv2.warpPerspective(image, m, (ww, wh), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT)
    inside = cv2.warpPerspective(np.full(image.shape[:2], 255, np.uint8), m, (ww, wh),
                                 flags=cv2.INTER_NEAREST) > 0
    lab = cv2.cvtColor(win, cv2.COLOR_RGB2LAB).astype(np.float32)
    lx1, lx2 = round(ww * (1 - 1 / sx) / 2), round(ww * (1 + 1 / sx) / 2)
    ly1, ly2 = round(wh * (1 - 1 / sy) / 2), round(wh * (1 + 1 / sy) / 2)
    line = lab[ly1:ly2, lx1:lx2]
    light = np.ascontiguousarray(line[..., 0]).astype(np.uint8)
    _, split = cv2.threshold(light, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    bright = split > 0
    background = bright if bright.mean() >= 0.5 else ~bright
    if background.sum() < 8:
        return None
    colour = np.median(line[background], axis=0)
    spread = float(np.median(np.linalg.norm(line[background] - colour, axis=1)))
    tolerance = max(18.0, 2.5 * spread + 8.0)
    similar = (np.linalg.norm(lab - colour, axis=2) < tolerance) & inside
    n, labels, stats, _ = cv2.connectedComponentsWithStats(similar.astype(np.uint8),
                                                           connectivity=4)
    under = labels[ly1:ly2, lx1:lx2][background]
    under = under[under > 0]
    if n < 2 or under.size == 0:
        return None
    x, y, w, h, _area = stats[int(np.bincount(under).argmax())]
    if x <= 0 or y <= 0 or x + w >= ww or y + h >= wh:
        return None  # runs on to the window's border: not a plate's edge
    rel_w, rel_h = w / max(1, lx2 - lx1), h / max(1, ly2 - ly1)
    if not (_PLATE_REL_W[0] <= rel_w <= _PLATE_REL_W[1]
            and _PLATE_REL_H[0] <= rel_h <= _PLATE_REL_H[1]):
        return None
    pad = 0.15 * _LINE_PX  # the plate's own border or frame lies just outside its background
    corners = np.array([[x - pad, y - pad], [x + w + pad, y - pad], [x + w + pad, y + h + pad],
                        [x - pad, y + h + pad]], np.float32)
    back = cv2.perspectiveTransform(corners[None], np.linalg.inv(m))[0]
    return back.astype(np.float32)


_RECT_WINDOW = 0.6  # the window searched around a text region: its box grown by this share
_RECT_SIDE = 320  # ... resampled so that its long side is at most this many px
_OPEN = np.ones((3, 3), np.uint8)
_RECT_LEVELS = 10  # grey levels tried, evenly spread between the window's 2nd and 98th pct


@dataclass(frozen=True)
class PlateRect:
    """A plate-shaped region found by appearance: corners (4, 2) in image px and its looks."""

    quad: np.ndarray
    rectangularity: float  # region area / its minimum-area rectangle's area
    aspect: float  # long / short side of that rectangle
    fill: float  # share of the region in the plate's own colour (the rest: characters)


def plate_rects(image: np.ndarray, quad: np.ndarray, max_out: int = 3) -> list[PlateRect]:
    """Plate-shaped regions around a text region, however the region is shaped or turned.

    On a wide-angle or fisheye frame the text detector often marks a tilted plate as one
    blob (a square-ish region whose rectangle says nothing of the plate's direction), so the
    plate is looked for by how it looks: a region of one grey level (light plates and dark
    ones, at `_RECT_LEVELS` thresholds) that is a filled quadrilateral (rectangularity >= 0.8,
    solidity >= 0.9, long/short 1.1-6: a plate seen obliquely is squarer than 2:1), holds
    characters (0.45-0.97 of it in its own colour), is bounded (does not touch the window's
    border) and lies where the text is. Returns up to `max_out` regions, the most
    rectangular first, each as a perspective quadrilateral (for reading it upright).
    """
    x1, y1 = quad.min(axis=0)
    x2, y2 = quad.max(axis=0)
    bw, bh = x2 - x1, y2 - y1
    h, w = image.shape[:2]
    wx1, wy1 = int(max(0, x1 - _RECT_WINDOW * bw)), int(max(0, y1 - _RECT_WINDOW * bh))
    wx2 = int(min(w, np.ceil(x2 + _RECT_WINDOW * bw)))
    wy2 = int(min(h, np.ceil(y2 + _RECT_WINDOW * bh)))
    if wx2 - wx1 < 16 or wy2 - wy1 < 12:
        return []
    win = image[wy1:wy2, wx1:wx2]
    k = min(1.0, _RECT_SIDE / max(win.shape[:2]))
    if k < 1.0:
        win = cv2.resize(win, (max(1, round(win.shape[1] * k)), max(1, round(win.shape[0] * k))),
                         interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(win, cv2.COLOR_RGB2GRAY)
    gh, gw = grey.shape
    region = ((quad - [wx1, wy1]) * k).astype(np.float32)
    region_area = max(1.0, float(cv2.contourArea(region)))
    lo, hi = np.percentile(grey, [2, 98])
    if hi - lo < 16:
        return []
    found: list[tuple[float, np.ndarray, PlateRect]] = []
    for t in np.linspace(lo, hi, _RECT_LEVELS + 2)[1:-1]:
        for mask in (grey > t, grey <= t):
            # opened: a thin bridge (a glint, a bumper's edge) must not join a plate to its
            # surroundings
            m = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, _OPEN)
            contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            for c in contours:
                area = cv2.contourArea(c)
                if area < max(120.0, 0.05 * region_area) or area > 8.0 * region_area:
                    continue
                bx, by, bw_, bh_ = cv2.boundingRect(c)
                if ((bx <= 0 < wx1) or (by <= 0 < wy1) or (bx + bw_ >= gw and wx2 < w)
                        or (by + bh_ >= gh and wy2 < h)):
                    continue  # runs on past the window (a plate cut by the frame's edge may not)
                (cx, cy), (rw, rh), _angle = cv2.minAreaRect(c)
                if min(rw, rh) < 8:
                    continue
                rect_fill = area / (rw * rh)
                aspect = max(rw, rh) / min(rw, rh)
                if rect_fill < 0.8 or aspect > 6.0:
                    continue
                hull = cv2.convexHull(c)
                if area < 0.9 * cv2.contourArea(hull):
                    continue
                if cv2.pointPolygonTest(region, (float(cx), float(cy)), False) < 0:
                    continue
                filled = np.zeros_like(m)
                cv2.drawContours(filled, [c], -1, 1, -1)
                fill = float(m[filled > 0].mean())
                if not 0.45 <= fill <= 0.99:
                    continue
                corners = _quadrilateral(hull) / k + [wx1, wy1]
                found.append((rect_fill, np.array([bx, by, bx + bw_, by + bh_], float),
                              PlateRect(corners.astype(np.float32), rect_fill, aspect, fill)))
    found.sort(key=lambda f: -f[0])
    out: list[PlateRect] = []
    kept: list[np.ndarray] = []
    for _, box, rect in found:  # one per place: the same plate shows at several levels
        if len(kept) and iou_matrix(box, np.array(kept)).max() > 0.6:
            continue
        kept.append(box)
        out.append(rect)
        if len(out) == max_out:
            break
    return out


def _quadrilateral(hull: np.ndarray) -> np.ndarray:
    """Four corners of a convex outline: a polygon fit when one has four, else its
    minimum-area rectangle."""
    perimeter = cv2.arcLength(hull, True)
    for eps in (0.02, 0.03, 0.04, 0.06):
        poly = cv2.approxPolyDP(hull, eps * perimeter, True)
        if len(poly) == 4 and cv2.isContourConvex(poly):
            return poly.reshape(4, 2).astype(np.float32)
    return cv2.boxPoints(cv2.minAreaRect(hull)).astype(np.float32)


class PlateDetector(ScaledDetector):
    """Finds licence plates: xyxy boxes that cover the whole plate, in image pixels.

    `text` lets the plate detector share an already loaded text detector (one model in
    memory when both text and plates are hidden).
    """

    kind = Kind.PLATE

    def __init__(self, options: PlateOptions | None = None,
                 text: TextDetector | None = None) -> None:
        self.options = options or PlateOptions()
        self.text = text or TextDetector(self.options.text)
        self.recognizer = Recognizer(self.options.rec_model_path, self.options.text.threads)
        self._lock = threading.Lock()

    @property
    def card(self) -> ModelCard:
        """The detection model's card; `cards` lists both models a plate decision uses."""
        return self.text.card

    @property
    def cards(self) -> tuple[ModelCard, ModelCard]:
        return self.text.card, self.recognizer.card

    def setup(self) -> None:
        """Load both models once; later calls do nothing."""
        with self._lock:
            self.text.setup()
            self.recognizer.setup()

    def main_pass(self, width: int, height: int) -> float:
        """The scale of the text detector's main pass over a whole frame of this size."""
        return self.text.main_pass(width, height)

    def detect(self, image: np.ndarray, passes: Sequence[float] | None = None) -> Detections:
        """Plates in an RGB image; `passes` as in `TextDetector.find`."""
        check_image(image, "plate detector")
        self.setup()
        o = self.options
        h, w = image.shape[:2]
        # Every pass's lines are read, duplicates included: two passes box the same line
        # differently, and one box may read where the other misreads (docs/decisions).
        found = self.text.find(image, passes)
        if not len(found):
            return Detections.empty(Kind.PLATE)
        candidates = [i for i, q in enumerate(found.quads)
                      if line_shape_ok(*line_geometry(q), o)]

        def rule(text: str, _confidence: float) -> float:
            return plate_text_score(text, o.min_chars, o.max_chars)

        verdicts = (self.recognizer.judge(image, found.quads[candidates], rule)
                    if candidates else np.zeros(0, np.float32))
        boxes, scores = [], []
        lines = found.xyxy()
        taken = np.zeros(len(found), bool)
        for i, verdict in zip(candidates, verdicts.tolist(), strict=True):
            if verdict < LETTERS_ONLY:
                continue
            rect = plate_background(image, found.quads[i])
            if verdict < PLATE_LIKE and (not o.letters_only or rect is None):
                continue
            taken[i] = True
            grown = grow_line(found.quads[i], o)
            parts = [(*grown.min(axis=0), *grown.max(axis=0))]
            if rect is not None:
                parts.append((*rect.min(axis=0), *rect.max(axis=0)))
            if o.absorb:
                parts.extend(tuple(b) for b in inside_plate(lines, i))
            arr = np.asarray(parts, np.float64)
            boxes.append([arr[:, 0].min(), arr[:, 1].min(), arr[:, 2].max(), arr[:, 3].max()])
            scores.append(float(found.score[i]))
        if o.plate_rects:
            for box, box_score in self._by_appearance(image, found, ~taken, rule):
                boxes.append(box)
                scores.append(box_score)
        log.debug("plate detector: %d text lines, %d shaped like plates, %d plates",
                  len(found), len(candidates), len(boxes))
        if not boxes:
            return Detections.empty(Kind.PLATE)
        xyxy, score = merge_union(np.asarray(boxes), np.asarray(scores), o.merge_iou,
                                   contain=NESTED)
        xyxy[:, [0, 2]] = np.clip(xyxy[:, [0, 2]], 0, w)
        xyxy[:, [1, 3]] = np.clip(xyxy[:, [1, 3]], 0, h)
        keep = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
        return Detections(xyxy[keep], np.clip(score[keep], 0.0, 1.0), Kind.PLATE)


    def _by_appearance(self, image: np.ndarray, found: TextBoxes, todo: np.ndarray,
                       rule: Rule) -> list[tuple[list[float], float]]:
        """Plates the line rule missed: plate-shaped regions around the other text regions,
        warped upright and read (their middle band and the whole plate); a plate-like
        string on a plate-shaped region makes a plate. Catches plates that a wide-angle or
        fisheye lens turns and skews, which the text detector marks as one blob."""
        h, w = image.shape[:2]
        o = self.options
        quads, owner = [], []
        for i in np.flatnonzero(todo):
            x1, y1 = found.quads[i].min(axis=0)
            x2, y2 = found.quads[i].max(axis=0)
            bw, bh = min(x2, w) - max(x1, 0), min(y2, h) - max(y1, 0)
            if min(bw, bh) < o.min_height or bw * bh > o.rect_max_area * w * h:
                continue
            for r in plate_rects(image, found.quads[i], max_out=2):
                quads += [r.quad, middle_band(r.quad)]
                owner.append((r.quad, float(found.score[i])))
        if not quads:
            return []
        verdicts = self.recognizer.judge(image, np.stack(quads), rule).reshape(-1, 2).max(axis=1)
        out = []
        for (quad, score), verdict in zip(owner, verdicts.tolist(), strict=True):
            if verdict < PLATE_LIKE:
                continue
            lo, hi = quad.min(axis=0), quad.max(axis=0)
            pad = 0.05 * (hi - lo)  # the plate's frame, and what the warp rounds off
            out.append(([*(lo - pad), *(hi + pad)], score))
        return out


def middle_band(quad: np.ndarray, top: float = 0.15, bottom: float = 0.85) -> np.ndarray:
    """The band of a plate (corners (4, 2)) between `top` and `bottom` of its height, where
    the registration is; the state name above and the slogan below confuse the reader."""
    tl, tr, br, bl = order_corners(quad)
    if np.hypot(*(bl - tl)) > 1.5 * np.hypot(*(tr - tl)):  # standing on end
        tl, tr, br, bl = bl, tl, tr, br
    return np.array([tl + top * (bl - tl), tr + top * (br - tr), tr + bottom * (br - tr),
                     tl + bottom * (bl - tl)], np.float32)

def inside_plate(lines: np.ndarray, i: int) -> np.ndarray:
    """Other text lines (xyxy) that lie where line i's plate is: a state, a city, a slogan."""
    x1, y1, x2, y2 = lines[i]
    w, h = x2 - x1, y2 - y1
    other = np.delete(lines, i, axis=0)
    ok = ((other[:, 0] >= x1 - 0.25 * w) & (other[:, 2] <= x2 + 0.25 * w)
          & (other[:, 1] >= y1 - 1.5 * h) & (other[:, 3] <= y2 + 1.5 * h)
          & (other[:, 2] - other[:, 0] <= 1.3 * w))
    return other[ok]

