"""Blur, pixelate and solid fill, with ellipse or box masks, sized relative to each region."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

import cv2
import numpy as np
import numpy.typing as npt

from faceless.core.errors import ConfigError
from faceless.core.geometry import pixel_span
from faceless.core.types import Box, Decision, Kind, Region


class Operator(StrEnum):
    """How a region's pixels are replaced."""

    BLUR = "blur"
    PIXELATE = "pixelate"
    FILL = "fill"


class Shape(StrEnum):
    """Which pixels of a region's box are replaced."""

    ELLIPSE = "ellipse"
    BOX = "box"


@dataclass(frozen=True)
class OperatorSpec:
    """One operator with its settings; strength is relative to each region's size."""

    operator: Operator = Operator.BLUR
    shape: Shape = Shape.ELLIPSE
    # Blur and pixelate reduce the region to about this many cells across its longer side:
    # 6 leaves no facial detail at any size (eyes, nose and mouth share a cell or two) yet
    # keeps a soft outline, where far fewer cells make a blur a smudge of the background.
    cells: float = 6.0
    color: tuple[int, int, int] = (0, 0, 0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "operator", Operator(self.operator))
        object.__setattr__(self, "shape", Shape(self.shape))
        if not 1.0 <= self.cells <= 64.0:
            raise ConfigError(f"cells must lie in [1, 64], got {self.cells}")
        if len(self.color) != 3 or not all(0 <= c <= 255 for c in self.color):
            raise ConfigError(f"color must be three values in 0..255, got {self.color}")

    def to_dict(self) -> dict[str, object]:
        return {"operator": str(self.operator), "shape": str(self.shape), "cells": self.cells,
                "color": list(self.color)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OperatorSpec:
        """The spec `to_dict` wrote (as read back from JSON); missing keys take the defaults."""
        try:
            return cls(Operator(d.get("operator", "blur")), Shape(d.get("shape", "ellipse")),
                       float(d.get("cells", 6.0)), tuple(d.get("color", (0, 0, 0))))
        except (TypeError, ValueError) as err:
            raise ConfigError(f"invalid operator settings {d!r}: {err}") from err


_DEFAULT = OperatorSpec()


def _mask(h: int, w: int, span: tuple[int, int, int, int], box: Box, shape: Shape
          ) -> npt.NDArray[np.bool_]:
    """Boolean mask of the span's pixels whose centres lie in the (ellipse of the) box."""
    x1, y1, x2, y2 = span
    if shape is Shape.BOX or (x2 - x1) < 3 or (y2 - y1) < 3:
        # Too small for an ellipse to be meaningful: hide every touched pixel.
        return np.ones((y2 - y1, x2 - x1), bool)
    bx1, by1, bx2, by2 = box
    cx, cy = (bx1 + bx2) / 2, (by1 + by2) / 2
    rx, ry = max((bx2 - bx1) / 2, 0.5), max((by2 - by1) / 2, 0.5)
    yy = (np.arange(y1, y2, dtype=np.float32) + 0.5 - cy) / ry
    xx = (np.arange(x1, x2, dtype=np.float32) + 0.5 - cx) / rx
    m = (yy[:, None] ** 2 + xx[None, :] ** 2) <= 1.0
    if not m.any():
        m[(y2 - y1) // 2, (x2 - x1) // 2] = True
    return m


def _blurred(image: npt.NDArray[np.uint8], span: tuple[int, int, int, int], cells: float,
             nearest: bool) -> npt.NDArray[np.uint8]:
    """The span's content reduced to about `cells` cells across and brought back to size.

    Works on the span grown by a margin so the cells mix in surrounding pixels: a tiny region
    then still changes, and the edge of the mask does not show the face's outline sharply.
    """
    h, w = image.shape[:2]
    x1, y1, x2, y2 = span
    bw, bh = x2 - x1, y2 - y1
    # At least 3 px per cell: smaller cells would leave a tiny region as it was.
    cell = max(max(bw, bh) / cells, 3.0)
    m = int(np.ceil(cell))
    cx1, cy1, cx2, cy2 = max(0, x1 - m), max(0, y1 - m), min(w, x2 + m), min(h, y2 + m)
    crop = image[cy1:cy2, cx1:cx2]
    ch, cw = crop.shape[:2]
    sw, sh = max(1, round(cw / cell)), max(1, round(ch / cell))
    small = cv2.resize(crop, (sw, sh), interpolation=cv2.INTER_AREA)
    if nearest:
        big = cv2.resize(small, (cw, ch), interpolation=cv2.INTER_NEAREST)
    else:
        # Smooth the cells at ~4 px a cell and only then bring them to full size: the look of
        # a Gaussian of one cell's width at full size, at a fraction of its cost, since only
        # the cells carry content.
        per = min(4.0, cell)
        mw, mh = min(cw, max(1, round(sw * cell / per))), min(ch, max(1, round(sh * cell / per)))
        mid = cv2.resize(small, (mw, mh), interpolation=cv2.INTER_LINEAR)
        if per >= 3:
            mid = cv2.GaussianBlur(mid, (3, 3), 0)
        big = cv2.resize(mid, (cw, ch), interpolation=cv2.INTER_LINEAR)
    # OpenCV's stubs drop the dtype; resizing keeps the input's uint8. (The type as a
    # string: subscripting it costs more at run time than the rest of the line.)
    return cast("npt.NDArray[np.uint8]", big[y1 - cy1 : y2 - cy1, x1 - cx1 : x2 - cx1])


def _masked(height: int, width: int, regions: Iterable[Region],
            spec: OperatorSpec | dict[Kind, OperatorSpec] | None
            ) -> Iterator[tuple[OperatorSpec, tuple[int, int, int, int], npt.NDArray[np.bool_]]]:
    """(operator, pixel span, mask within the span) of each region to redact, in order."""
    for r in regions:
        if r.decision is not Decision.REDACT:
            continue
        s = spec.get(r.kind, _DEFAULT) if isinstance(spec, dict) else (spec or _DEFAULT)
        span = pixel_span(r.box, width, height)
        if span is not None:
            yield s, span, _mask(height, width, span, r.box, s.shape)


def redaction_mask(height: int, width: int, regions: Iterable[Region],
                   spec: OperatorSpec | dict[Kind, OperatorSpec] | None = None
                   ) -> npt.NDArray[np.bool_]:
    """Boolean (H, W) mask of every pixel that apply_regions replaces for these regions."""
    out = np.zeros((height, width), bool)
    for _, (x1, y1, x2, y2), mask in _masked(height, width, regions, spec):
        out[y1:y2, x1:x2] |= mask
    return out


def apply_regions(image: npt.NDArray[np.uint8], regions: Iterable[Region],
                  spec: OperatorSpec | dict[Kind, OperatorSpec] | None = None
                  ) -> npt.NDArray[np.uint8]:
    """A new image with every region whose decision is REDACT hidden; the input is not changed.

    `spec` is one OperatorSpec for all regions, or a mapping from Kind to OperatorSpec.
    """
    return redact(image, regions, spec)[0]


def redact(image: npt.NDArray[np.uint8], regions: Iterable[Region],
           spec: OperatorSpec | dict[Kind, OperatorSpec] | None = None,
           ) -> tuple[npt.NDArray[np.uint8], list[tuple[int, int, int, int]]]:
    """`apply_regions`, and the pixel span (x1, y1, x2, y2) of every region it wrote to.

    Outside the spans the new image equals the input exactly (a video writer relies on it to
    convert only those parts).
    """
    out = np.array(image, copy=True)
    if out.ndim != 3 or out.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, C) uint8 image, got {out.shape} {out.dtype}")
    h, w = out.shape[:2]
    spans: list[tuple[int, int, int, int]] = []
    for s, span, mask in _masked(h, w, regions, spec):
        x1, y1, x2, y2 = span
        # Read from `out`, not `image`: overlapping regions compound, never re-expose.
        if s.operator is Operator.FILL:
            # One pixel's colour, broadcast by copyto: no patch-sized array to build.
            colour = np.asarray(s.color + (255,) * (out.shape[2] - 3), np.uint8)[: out.shape[2]]
            np.copyto(out[y1:y2, x1:x2], colour, where=mask[..., None])
        else:
            patch = _blurred(out, span, s.cells, nearest=s.operator is Operator.PIXELATE)
            # OpenCV's masked copy writes into the view of `out` in place, many times faster
            # than numpy's copyto with a broadcast mask.
            cv2.copyTo(patch, mask.view(np.uint8), out[y1:y2, x1:x2])
        spans.append(span)
    return out, spans
