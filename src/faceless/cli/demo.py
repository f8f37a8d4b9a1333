"""`faceless demo`: write a sample photo and a short generated video to try faceless on."""

from __future__ import annotations

import argparse
import shutil
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from faceless.samples import astronaut_path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="write sample media (a photo and a short video) to a folder",
                       description="Write a public-domain portrait and a 3-second video made "
                                   "from it (the face moves and changes size) into FOLDER.")
    p.add_argument("folder", type=Path, nargs="?", default=Path("faceless-demo"))
    p.set_defaults(func=main)


def demo_frames(n: int = 75, size: tuple[int, int] = (640, 360)) -> list[np.ndarray]:
    """Frames of the portrait sliding across a grey backdrop while it shrinks and grows."""
    photo = np.asarray(Image.open(astronaut_path()).convert("RGB"))
    w, h = size
    frames = []
    for i in range(n):
        t = i / max(1, n - 1)
        side = int(140 + 120 * np.sin(np.pi * t))  # 140..260 px portrait, face ~30..55 px
        img = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
        frame = np.full((h, w, 3), 70, np.uint8)
        x = int((w - side) * t)
        y = (h - side) // 2
        frame[y:y + side, x:x + side] = img
        frames.append(frame)
    return frames


def main(a: argparse.Namespace) -> int:
    import av

    a.folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(astronaut_path(), a.folder / "astronaut.jpg")
    path = a.folder / "astronaut-moving.mp4"
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 640, 360, "yuv420p"
        s.time_base = Fraction(1, 25)
        for i, f in enumerate(demo_frames()):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            vf.pts = i
            out.mux(s.encode(vf))
        out.mux(s.encode())
    print(f"wrote {a.folder / 'astronaut.jpg'} and {path}")
    print(f"now run:  faceless run {a.folder} -o {a.folder}-out")
    return 0
