"""Track thumbnails: a small crop of the source around each track's best region."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from faceless.core.types import Box, Origin
from faceless.plan.model import Plan

# Room around the box, as a share of its size: the crop shows the face with a little of
# what is around it, which is what a reviewer recognises a track by.
MARGIN = 0.25
SIDE = 96  # the longer side of a thumbnail, twice the size the page shows it at


def best_regions(plan: Plan) -> dict[int, tuple[int, Box]]:
    """Each track's (frame index, box) to show: its highest-scoring detected region (the
    first such on a tie) or, for a track nothing detected (drawn by hand, or only carried
    by tracking), its first region."""
    best: dict[int, tuple[int, int, float, Box]] = {}  # track -> (rank, frame, score, box)
    detected = Origin.DETECTED
    # One pass with plain comparisons: a long video's plan holds hundreds of thousands of
    # regions, and this runs again after any edit once a thumbnail is asked for.
    for f in plan.frames:
        for r in f.regions:
            track = r.track_id
            if track is None:
                continue
            rank = 1 if r.origin is detected else 0
            held = best.get(track)
            if (held is None or rank > held[0]
                    or (rank == held[0] == 1 and r.score > held[2])):
                best[track] = (rank, f.index, r.score, r.box)
    return {t: (frame, box) for t, (_, frame, _, box) in best.items()}


def crop(image: np.ndarray, box: Box, side: int = SIDE, quality: int = 85) -> bytes:
    """The part of `image` (H, W, 3) around `box`, its longer side `side` pixels, as JPEG."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = box
    mx, my = (x2 - x1) * MARGIN, (y2 - y1) * MARGIN
    left, top = max(0, int(x1 - mx)), max(0, int(y1 - my))
    right, bottom = min(w, int(np.ceil(x2 + mx))), min(h, int(np.ceil(y2 + my)))
    part = Image.fromarray(np.ascontiguousarray(image[top:max(bottom, top + 1),
                                                      left:max(right, left + 1)]))
    k = side / max(part.width, part.height)
    part = part.resize((max(1, round(part.width * k)), max(1, round(part.height * k))),
                       Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    part.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
