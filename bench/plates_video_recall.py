"""Plate recall at video sizes: labelled plates pasted small into real street frames.

The plate sets (openalpr us/eu/br, CCPD samples) are photos of cars taken close, with plates
45 px high on the median; in video the plates that matter are small. Here each labelled plate
is cut out with its surroundings (the plate's box grown by 1.5 plate widths left and right and
2 plate heights above and below: bumper, lights, body), scaled so that the plate is --heights
px high, and pasted six to a frame (a 3 x 2 grid) into MOT17 street frames (1920x1080, or
resized to 1280x720 with --size 720p). A plate counts as hidden when >= 70% of its pixels
lie in the detector's boxes (as `/work/shared/tools/redaction_eval.py` judges); boxes that
touch no pasted plate are counted as false regions (the street frames hold no readable
plates, but signs and shop names).

    python bench/plates_video_recall.py --heights 12,16,24 --scales 1,0.75,0.5 --every 2
    python bench/plates_video_recall.py --configs "coarse_side=0;tile=1920" --every 2
    python bench/plates_video_recall.py --configs "model_path=/tmp/det-int8.onnx"

Each configuration prints recall per plate height, the false regions and the CPU ms per frame.
`--scales` below 1 drop the coarse pass (it would run at about the same scale).
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from faceless.detect.plates import PlateDetector, PlateOptions
from faceless.detect.text import TextOptions

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
MOT = DATA / "videos" / "mot17-mini" / "MOT17-mini" / "train"
sys.path.insert(0, str(ROOT.parent / "shared" / "tools"))


def plate_samples(every: int) -> list[tuple[np.ndarray, tuple[float, float, float, float]]]:
    """(RGB image, first labelled plate box) of every `every`-th sample of the plate sets."""
    from redaction_eval import load_ccpd, load_openalpr

    samples = (load_openalpr(DATA / "plates" / "openalpr")
               + load_ccpd(DATA / "plates" / "ccpd-samples"))
    out = []
    for s in samples[::every]:
        img = cv2.cvtColor(cv2.imread(str(s.image)), cv2.COLOR_BGR2RGB)
        out.append((img, tuple(float(v) for v in s.boxes[0])))
    return out


def cutout(img: np.ndarray, box: tuple[float, float, float, float], height: float
           ) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The plate with its surroundings, scaled so that the plate is `height` px high."""
    x1, y1, x2, y2 = box
    bw, bh = x2 - x1, y2 - y1
    h, w = img.shape[:2]
    cx1, cy1 = int(max(0, x1 - 1.5 * bw)), int(max(0, y1 - 2 * bh))
    cx2, cy2 = int(min(w, x2 + 1.5 * bw)), int(min(h, y2 + 2 * bh))
    k = height / bh
    crop = img[cy1:cy2, cx1:cx2]
    size = (max(1, round(crop.shape[1] * k)), max(1, round(crop.shape[0] * k)))
    small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    return small, ((x1 - cx1) * k, (y1 - cy1) * k, (x2 - cx1) * k, (y2 - cy1) * k)


def scenes(samples, height: float, size: tuple[int, int], backgrounds: list[np.ndarray]):
    """Frames of six pasted plates each, and the pasted plates' boxes."""
    w, h = size
    cells = [(c * w // 3, r * h // 2) for r in range(2) for c in range(3)]
    for start in range(0, len(samples), len(cells)):
        frame = backgrounds[(start // len(cells)) % len(backgrounds)].copy()
        boxes = []
        for (ox, oy), (img, box) in zip(cells, samples[start:start + len(cells)], strict=False):
            small, (bx1, by1, bx2, by2) = cutout(img, box, height)
            sh, sw = min(small.shape[0], h // 2 - 20), min(small.shape[1], w // 3 - 20)
            # the plate centred in the cell, its surroundings cut to the cell
            px, py = ox + (w // 3 - sw) // 2, oy + (h // 2 - sh) // 2
            sx = int(np.clip((bx1 + bx2) / 2 - sw / 2, 0, small.shape[1] - sw))
            sy = int(np.clip((by1 + by2) / 2 - sh / 2, 0, small.shape[0] - sh))
            frame[py:py + sh, px:px + sw] = small[sy:sy + sh, sx:sx + sw]
            boxes.append((bx1 - sx + px, by1 - sy + py, bx2 - sx + px, by2 - sy + py))
        yield frame, boxes


def judge(found: np.ndarray, boxes: list, shape: tuple[int, int]) -> tuple[int, int]:
    h, w = shape
    mask = np.zeros((h, w), bool)
    for x1, y1, x2, y2 in found:
        mask[int(y1):int(np.ceil(y2)), int(x1):int(np.ceil(x2))] = True
    hit = 0
    for x1, y1, x2, y2 in boxes:
        hit += mask[int(y1):int(np.ceil(y2)), int(x1):int(np.ceil(x2))].mean() >= 0.7
    gx = np.array(boxes)
    false = sum(not ((b[0] < gx[:, 2]) & (b[2] > gx[:, 0]) & (b[1] < gx[:, 3])
                     & (b[3] > gx[:, 1])).any() for b in found)
    return int(hit), int(false)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--heights", default="12,16,24", help="plate heights in px")
    ap.add_argument("--scales", default="1", help="text-detection scales to compare")
    ap.add_argument("--configs", default="",
                    help="';'-separated TextOptions to compare, e.g. 'coarse_side=0;tile=1920'")
    ap.add_argument("--size", choices=("1080p", "720p"), default="1080p")
    ap.add_argument("--every", type=int, default=1, help="use every Nth plate")
    args = ap.parse_args()
    size = (1920, 1080) if args.size == "1080p" else (1280, 720)
    backgrounds = [cv2.resize(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB), size,
                              interpolation=cv2.INTER_AREA)
                   for p in sorted(MOT.glob("*/img1/*.jpg"))]
    samples = plate_samples(args.every)
    configs: list[tuple[str, PlateDetector]] = []
    for s in (float(v) for v in args.scales.split(",")):
        opts = TextOptions(scales=(s,), coarse_side=960 if s >= 1 else 0)
        configs.append((f"scale {s:g}", PlateDetector(PlateOptions(text=opts))))
    for spec in filter(None, args.configs.split(";")):
        kw = {k: Path(v) if k == "model_path" else ast.literal_eval(v)
              for k, v in (p.split("=") for p in spec.split(","))}
        configs.append((spec, PlateDetector(PlateOptions(text=TextOptions(**kw)))))
    heights = [float(v) for v in args.heights.split(",")]
    print(f"{args.size}, {len(samples)} plates per height")
    print(f"{'config':<24} " + " ".join(f"{f'h={v:g}':>8}" for v in heights)
          + f" {'false':>6} {'cpu ms':>7}")
    for name, det in configs:
        det.setup()
        recall, false, cpu, frames = [], 0, 0.0, 0
        for height in heights:
            hit = n = 0
            for frame, boxes in scenes(samples, height, size, backgrounds):
                t = time.process_time()
                found = det.detect(frame)
                cpu += time.process_time() - t
                frames += 1
                got, bad = judge(found.xyxy, boxes, frame.shape[:2])
                hit, n, false = hit + got, n + len(boxes), false + bad
            recall.append(hit / n)
        print(f"{name:<24} " + " ".join(f"{r:>8.1%}" for r in recall)
              + f" {false:>6} {1000 * cpu / frames:>7.0f}", flush=True)


if __name__ == "__main__":
    main()
