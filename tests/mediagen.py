"""Test helper: pictures with real faces in them, and broken files. Not a test module."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from faceless.samples import astronaut_path

# The face in the 512x512 astronaut photo, measured once by eye (x1, y1, x2, y2).
FACE_512 = (171.0, 33.0, 281.0, 187.0)


def astronaut() -> np.ndarray:
    return np.asarray(Image.open(astronaut_path()).convert("RGB"))


def portrait_scene(side: int = 128, size: tuple[int, int] = (192, 144), x: int = 32,
                   y: int = 8) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A grey frame of `size` (W, H) with the portrait scaled to `side` px at (x, y).

    Returns the frame and where the face is in it.
    """
    w, h = size
    frame = np.full((h, w, 3), 80, np.uint8)
    frame[y:y + side, x:x + side] = cv2.resize(astronaut(), (side, side),
                                               interpolation=cv2.INTER_AREA)
    k = side / 512
    fx1, fy1, fx2, fy2 = FACE_512
    return frame, (x + fx1 * k, y + fy1 * k, x + fx2 * k, y + fy2 * k)


def changed_fraction(before: np.ndarray, after: np.ndarray, box) -> float:
    """Share of the box's pixels that changed by more than 2 levels (redaction_eval's rule)."""
    x1, y1, x2, y2 = (round(v) for v in box)
    d = np.abs(before[y1:y2, x1:x2].astype(int) - after[y1:y2, x1:x2].astype(int)).max(axis=2)
    return float((d > 2).mean())


def png_bomb(path: Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A tiny PNG whose header claims a huge size: a decompression bomb's calling card."""
    Image.new("L", (8, 8)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = 8 + 8  # signature, then length + b'IHDR'
    data[ihdr:ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr - 4:ihdr + 13])) & 0xFFFFFFFF
    data[ihdr + 13:ihdr + 17] = struct.pack(">I", crc)
    path.write_bytes(bytes(data))
    return path
