"""Regenerate the before/after pictures in docs/img from the sample photo that ships.

    python bench/pictures.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from faceless.analyze import Analyzer
from faceless.anonymize import Operator, OperatorSpec, Redactor, Shape
from faceless.options import Options
from faceless.samples import astronaut_path

OUT = Path(__file__).resolve().parents[1] / "docs" / "img"


def label(img: np.ndarray, text: str) -> np.ndarray:
    bar = np.full((28, img.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar, img], axis=0)


def sheet(tiles: list[tuple[str, np.ndarray]], path: Path, tile: int = 256) -> None:
    row = [label(cv2.resize(im, (tile, tile), interpolation=cv2.INTER_AREA), t) for t, im in tiles]
    Image.fromarray(np.concatenate(row, axis=1)).save(path, optimize=True)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    photo = np.asarray(Image.open(astronaut_path()).convert("RGB"))
    crop = (slice(0, 300), slice(100, 350))  # the head and shoulders
    eng = Analyzer(Options())
    regions = eng.regions(photo)
    tiles = [("original", photo)]
    for title, spec in [("blur (default)", OperatorSpec()),
                        ("pixelate", OperatorSpec(Operator.PIXELATE)),
                        ("fill", OperatorSpec(Operator.FILL)),
                        ("blur, box shape", OperatorSpec(shape=Shape.BOX))]:
        tiles.append((title, Redactor(eng.options.specs(spec)).hide(photo, regions)))
    sheet([(t, np.ascontiguousarray(im[crop])) for t, im in tiles], OUT / "operators.png")
    tiles = [("original", photo)]
    for scale in (1.0, 1.45, 1.8):
        e = Analyzer(Options(mask_scale=scale))
        tiles.append((f"mask scale {scale}" + (" (default)" if scale == 1.45 else ""),
                      e.hide(photo, e.regions(photo))))
    sheet([(t, np.ascontiguousarray(im[crop])) for t, im in tiles], OUT / "mask_scale.png")
    # Strength is relative: the same face at 24, 48 and 96 px, each blurred by default.
    tiles = []
    for side in (110, 220, 440):
        small = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
        out = Redactor(eng.options.specs()).hide(small, eng.regions(small))
        tiles.append((f"face ~{side * 110 // 512} px wide", out))
    sheet(tiles, OUT / "relative_strength.png")
    print(f"wrote {', '.join(p.name for p in sorted(OUT.glob('*.png')))} in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
