"""Before/after contact sheet of a video and its anonymized copy, for a person to check by eye.

    faceless run ../shared/data/videos/egoblur-demo/gen2/demo_assets/test_lp_video.mp4 \
        -o /tmp/lp.mp4
    python bench/contact_sheet.py SRC /tmp/lp.mp4 docs/img/lp_video_sheet.jpg --frames 0,8,16,23

`--crop x1,y1,x2,y2` (source pixels) shows only that part of every frame, to check small
objects such as plates by eye.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from faceless.media.video import iter_frames


def frames_at(path: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    return {vf.ref.index: vf.image for vf in iter_frames(path) if vf.ref.index in wanted}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--frames", default="0", help="comma-separated frame indices")
    ap.add_argument("--width", type=int, default=640, help="width of each tile in pixels")
    ap.add_argument("--crop", default=None, help="x1,y1,x2,y2: show only this part (source px)")
    a = ap.parse_args()
    crop = [int(v) for v in a.crop.split(",")] if a.crop else None
    if crop is not None and (len(crop) != 4 or crop[2] <= crop[0] or crop[3] <= crop[1]):
        ap.error("--crop needs x1,y1,x2,y2 with x2 > x1 and y2 > y1")
    wanted = {int(v) for v in a.frames.split(",")}
    before, after = frames_at(a.before, wanted), frames_at(a.after, wanted)
    rows = []
    for i in sorted(wanted & before.keys() & after.keys()):
        pair = []
        for img in (before[i], after[i]):
            if crop is not None:
                img = np.ascontiguousarray(img[crop[1]:crop[3], crop[0]:crop[2]])
            h, w = img.shape[:2]
            tile = cv2.resize(img, (a.width, round(h * a.width / w)), interpolation=cv2.INTER_AREA)
            cv2.putText(tile, f"frame {i}", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7,
                        (255, 255, 0), 2, cv2.LINE_AA)
            pair.append(tile)
        rows.append(np.concatenate(pair, axis=1))
    if not rows:
        print("no frames in common", file=sys.stderr)
        return 1
    a.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows, axis=0)).save(a.out, quality=80)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
