"""CPU cost of one plate search per video frame, split into its stages.

Times `PlateDetector.detect` on real frames (MOT17 street scenes at 1920x1080, the same
frames resized to 1280x720, and the 2560x1920 fisheye clip) and reports, per searched frame,
the median CPU milliseconds (`time.process_time`: steadier than wall time on a shared
machine) of the whole search and of its stages: the text network (`TextModel.probability`),
DB post-processing, reading lines (`Recognizer.judge`), the plate background check and the
plate-shape search (`plate_rects`). Each clip is run as a video would be: frames in order,
one detector, so anything the detector carries between calls is counted as it would be.

    python bench/plates_speed.py                       # ~2 min on 2 idle cores
    python bench/plates_speed.py --clips 1080p --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from faceless.detect import ocr, plates
from faceless.detect.plates import PlateDetector, PlateOptions

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"
MOT = VIDEOS / "mot17-mini" / "MOT17-mini" / "train"
FISHEYE = VIDEOS / "egoblur-demo" / "gen2" / "demo_assets" / "test_lp_video.mp4"

_spent: dict[str, float] = defaultdict(float)


def _timed(owner: object, name: str, label: str) -> None:
    """Wrap owner.name so that its CPU time adds up under `label` (outermost call only)."""
    fn: Callable = getattr(owner, name)
    depth = [0]

    def wrapper(*args, **kwargs):
        depth[0] += 1
        t = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            depth[0] -= 1
            if depth[0] == 0:
                _spent[label] += time.process_time() - t

    setattr(owner, name, wrapper)


def _instrument() -> None:
    _timed(ocr.TextModel, "probability", "text net")
    _timed(ocr, "db_boxes", "db post")
    _timed(ocr.Recognizer, "judge", "read")
    _timed(plates, "plate_background", "background")
    _timed(plates, "plate_rects", "shape search")
    # the modules bound these names at import
    import faceless.detect.text as text_mod
    text_mod.db_boxes = ocr.db_boxes


def _mot_frames(step: int) -> list[np.ndarray]:
    paths = sorted(MOT.glob("*/img1/*.jpg"))[::step]
    return [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in paths]


def _video_frames(path: Path, count: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while len(out) < count:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    return out


def clips(names: list[str]) -> dict[str, list[np.ndarray]]:
    out: dict[str, list[np.ndarray]] = {}
    if "720p" in names or "1080p" in names:
        mot = _mot_frames(1)
        if "720p" in names:
            out["720p"] = [cv2.resize(f, (1280, 720), interpolation=cv2.INTER_AREA) for f in mot]
        if "1080p" in names:
            out["1080p"] = mot
    if "fisheye" in names and FISHEYE.exists():
        out["fisheye 2560x1920"] = _video_frames(FISHEYE, 24)[::3]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", default="720p,1080p,fisheye")
    ap.add_argument("--repeat", type=int, default=1, help="runs over each clip (medians)")
    ap.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads")
    ap.add_argument("--spinning", action="store_true",
                    help="ONNX Runtime's default spinning worker threads (faceless turns "
                    "spinning off)")
    args = ap.parse_args()
    if args.spinning:
        from functools import partial

        from faceless.detect import onnx
        ocr.make_session = partial(onnx.make_session, spin=True)
    _instrument()
    stages = ["text net", "db post", "read", "background", "shape search"]
    print(f"{'clip':<20} {'frames':>6} {'total ms':>9} " + " ".join(f"{s:>12}" for s in stages)
          + f" {'plates':>7}")
    from faceless.detect.text import TextOptions
    for name, frames in clips(args.clips.split(",")).items():
        per: dict[str, list[float]] = defaultdict(list)
        found = 0
        for _ in range(args.repeat):
            det = PlateDetector(PlateOptions(text=TextOptions(threads=args.threads)))
            det.setup()
            det.detect(frames[0])  # warm-up: first-run allocations
            for f in frames:
                _spent.clear()
                t = time.process_time()
                found += len(det.detect(f))
                per["total"].append(time.process_time() - t)
                for s in stages:
                    per[s].append(_spent[s])
        med = {k: 1000 * statistics.median(v) for k, v in per.items()}
        print(f"{name:<20} {len(frames):>6} {med['total']:>9.0f} "
              + " ".join(f"{med[s]:>12.0f}" for s in stages)
              + f" {found / args.repeat:>7.0f}")


if __name__ == "__main__":
    main()
