"""The contact sheet: crops of the suspects from the release, captioned, in one PNG."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from faceless.check.model import Finding
from faceless.check.scan import CROP_SIDE

CELL = CROP_SIDE + 8
CAPTION = 28  # two lines of Pillow's default font
COLUMNS = 8


def write_sheet(findings: list[Finding], path: Path) -> int:
    """Write the crops of `findings` (those that have one) as a PNG; return how many."""
    crops = [f for f in findings if f.crop is not None]
    if not crops:
        return 0
    cols = min(COLUMNS, len(crops))
    rows = math.ceil(len(crops) / cols)
    sheet = Image.new("RGB", (cols * CELL, rows * (CELL + CAPTION)), (32, 32, 32))
    draw = ImageDraw.Draw(sheet)
    for i, f in enumerate(crops):
        assert f.crop is not None
        x, y = (i % cols) * CELL, (i // cols) * (CELL + CAPTION)
        pic = Image.fromarray(np.ascontiguousarray(f.crop))
        sheet.paste(pic, (x + (CELL - pic.width) // 2, y + (CELL - pic.height) // 2))
        when = "" if f.time is None else f" {f.time:.2f}s"
        draw.text((x + 3, y + CELL), f"#{f.frame}{when}", fill=(255, 255, 255))
        draw.text((x + 3, y + CELL + 13), f"{f.kind} {f.score or 0:.2f}", fill=(255, 200, 80))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return len(crops)
