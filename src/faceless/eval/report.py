"""Pictures of an evaluation: recall by size and recall vs over-redaction, a sheet of misses."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from faceless.core.errors import ConfigError
from faceless.core.types import Box

TILE = 112  # contact sheet tile side, pixels


def miss_crop(image: npt.NDArray[np.uint8], hidden: npt.NDArray[np.bool_], box: Box,
              margin: float = 0.5) -> npt.NDArray[np.uint8]:
    """The missed box with some context, the hidden pixels tinted red, the box outlined."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = box
    bw, bh = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    cx1, cy1 = int(max(0, x1 - margin * bw)), int(max(0, y1 - margin * bh))
    cx2, cy2 = int(min(w, x2 + margin * bw + 1)), int(min(h, y2 + margin * bh + 1))
    if cx2 <= cx1 or cy2 <= cy1:
        return np.zeros((TILE, TILE, 3), np.uint8)
    crop = image[cy1:cy2, cx1:cx2].astype(np.float32)
    m = hidden[cy1:cy2, cx1:cx2]
    crop[m] = crop[m] * 0.5 + np.array([255, 0, 0], np.float32) * 0.5
    pil = Image.fromarray(crop.astype(np.uint8))
    k = TILE / max(pil.width, pil.height)
    pil = pil.resize((max(1, round(pil.width * k)), max(1, round(pil.height * k))),
                     Image.Resampling.NEAREST if k > 1 else Image.Resampling.BILINEAR)
    d = ImageDraw.Draw(pil)
    d.rectangle([(x1 - cx1) * k, (y1 - cy1) * k, (x2 - cx1) * k - 1, (y2 - cy1) * k - 1],
                outline=(255, 255, 0))
    return np.asarray(pil)


def contact_sheet(crops: Sequence[tuple[npt.NDArray[np.uint8], str]], path: Path,
                  columns: int = 8) -> Path:
    """Write the crops as a grid with a caption under each; an empty list gives a note."""
    path = Path(path)
    cap = 14
    cols = max(1, min(columns, len(crops)))
    rows = max(1, -(-len(crops) // cols))
    sheet = Image.new("RGB", (cols * (TILE + 4) + 4, rows * (TILE + cap + 4) + 4),
                      (32, 32, 32))
    d = ImageDraw.Draw(sheet)
    if not crops:
        d.text((6, 6), "no misses", fill=(255, 255, 255))
    for n, (crop, caption) in enumerate(crops):
        r, c = divmod(n, cols)
        x, y = 4 + c * (TILE + 4), 4 + r * (TILE + cap + 4)
        tile = Image.fromarray(crop)
        sheet.paste(tile, (x + (TILE - tile.width) // 2, y + (TILE - tile.height) // 2))
        d.text((x, y + TILE + 1), caption[:21], fill=(230, 230, 230))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path


def plot(summary: dict[str, Any], path: Path, title: str = "") -> Path:
    """Recall by object size, and recall against over-redaction across thresholds (PNG).

    Needs matplotlib (pip install 'faceless[eval]').
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ConfigError("--plot needs matplotlib: pip install 'faceless[eval]'") from err
    kinds = summary["kinds"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    names = list(kinds)
    buckets = list(next(iter(kinds.values()))["by_size"]) if kinds else []
    width = 0.8 / max(1, len(names))
    for j, k in enumerate(names):
        vals = [kinds[k]["by_size"][b]["recall"] for b in buckets]
        ns = [kinds[k]["by_size"][b]["n"] for b in buckets]
        xs = np.arange(len(buckets)) + (j - (len(names) - 1) / 2) * width
        a1.bar(xs, [v or 0 for v in vals], width, label=f"{k} (n={kinds[k]['objects']})")
        for x, v, n in zip(xs, vals, ns, strict=True):
            if n:
                a1.text(x, (v or 0) + 0.02, f"{n}", ha="center", fontsize=7)
    a1.set_xticks(range(len(buckets)), [f"{b} px" for b in buckets])
    a1.set_ylim(0, 1.08)
    a1.set_ylabel(f"recall (>= {summary['settings']['cover']:.0%} of box hidden)")
    a1.set_xlabel("object size (short side); number above = objects")
    a1.set_title("recall by size")
    a1.legend(fontsize=8)
    sweep = summary.get("sweep") or []
    for k in names:
        pts = [(s["over_redaction"], s["recall"][k], s["threshold"]) for s in sweep
               if s["recall"].get(k) is not None]
        if not pts:
            continue
        overs, ys, ts = zip(*pts, strict=True)
        a2.plot(np.array(overs) * 100, ys, marker="o", label=k)
        for x, y, t in zip(overs, ys, ts, strict=True):
            a2.annotate(f"{t:g}", (x * 100, y), fontsize=7, xytext=(3, -9),
                        textcoords="offset points")
        op = kinds[k]
        if op["recall"] is not None and summary["over_redaction"] is not None:
            a2.plot([summary["over_redaction"] * 100], [op["recall"]], marker="*",
                    markersize=14, color="black", linestyle="none")
    a2.set_xlabel("over-redaction (% of pixels away from labels that are hidden)")
    a2.set_ylabel("recall")
    a2.set_title(f"across thresholds (star: threshold {summary['settings']['threshold']:g})")
    a2.grid(alpha=0.3)
    if sweep:
        a2.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


__all__ = ["contact_sheet", "miss_crop", "plot"]
