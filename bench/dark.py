"""Face models on dark, low-contrast photos: does a model still find what fp32 finds?

Darkens the first 120 annotated kaggle-face-mask images of ../shared/data (contrast scaled
about the mean, then brightness) and counts the labelled faces of at least 16 px that a
detection overlaps (IoU >= 0.3), for each model; also the CPU time of one pass on a
640x360 and a 1920x1080 frame. Prints a markdown table.

    python bench/dark.py                               # fp32 and the shipped int8 model
    python bench/dark.py --model mine=/tmp/other.onnx  # add any CenterFace-shaped ONNX file
"""

from __future__ import annotations

import argparse
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np

from faceless.core.geometry import iou_matrix
from faceless.detect.faces import CenterFaceDetector, FaceOptions

KAGGLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "kaggle-face-mask"
LEVELS = ((1.0, 1.0), (0.3, 0.5), (0.15, 0.4))  # (contrast, brightness)


def load(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for ann in sorted((KAGGLE / "annotations").glob("*.xml"))[:n]:
        root = ET.parse(ann).getroot()
        img = cv2.imread(str(KAGGLE / "images" / root.findtext("filename")))
        boxes = [[float(o.find("bndbox").findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")]
                 for o in root.iter("object")]
        boxes = [b for b in boxes if min(b[2] - b[0], b[3] - b[1]) >= 16]
        if boxes:
            out.append((cv2.cvtColor(img, cv2.COLOR_BGR2RGB), np.array(boxes)))
    return out


def darken(img: np.ndarray, contrast: float, brightness: float) -> np.ndarray:
    x = img.astype(np.float32)
    return np.clip(((x - x.mean()) * contrast + x.mean()) * brightness, 0, 255).astype(np.uint8)


def cpu_ms(det: CenterFaceDetector, frame: np.ndarray, repeat: int = 4) -> float:
    det.detect_at(frame, 1.0, 0.05)
    t = time.process_time()
    for _ in range(repeat):
        det.detect_at(frame, 1.0, 0.05)
    return (time.process_time() - t) / repeat * 1000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=120)
    ap.add_argument("--model", action="append", default=[], metavar="NAME=PATH")
    a = ap.parse_args(argv)
    models = {"fp32": FaceOptions(precision="fp32"),
              "int8 (shipped)": FaceOptions(precision="int8")}
    for spec in a.model:
        name, _, path = spec.partition("=")
        models[name] = FaceOptions(model_path=Path(path))
    data = load(a.images)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for w, h in ((640, 360),
                                                                          (1920, 1080))]
    head = " | ".join(f"contrast ×{c:g}, brightness ×{b:g}" for c, b in LEVELS)
    print(f"{sum(len(g) for _, g in data)} faces ≥ 16 px in {len(data)} images\n")
    print(f"| model | {head} | CPU ms, 640×360 / 1920×1080 pass |")
    print("|---|" + "---|" * len(LEVELS) + "---|")
    for name, opts in models.items():
        det = CenterFaceDetector(opts)
        cells = []
        for c, b in LEVELS:
            hit = total = 0
            for img, gt in data:
                found = det.detect(darken(img, c, b))
                total += len(gt)
                if len(found):
                    hit += int((iou_matrix(gt, found.xyxy).max(axis=1) >= 0.3).sum())
            cells.append(f"{hit / total:.1%}")
        ms = " / ".join(f"{cpu_ms(det, f):.0f}" for f in frames)
        print(f"| {name} | " + " | ".join(cells) + f" | {ms} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
