"""Plain data types that travel between detect, plan and anonymize."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction

import numpy as np
import numpy.typing as npt


class Kind(StrEnum):
    """What a region is."""

    FACE = "face"
    PLATE = "plate"
    TEXT = "text"
    HEAD = "head"
    PERSON = "person"


class Origin(StrEnum):
    """Where a region came from."""

    DETECTED = "detected"
    TRACKED = "tracked"
    MANUAL = "manual"


class Decision(StrEnum):
    """What happens to a region."""

    REDACT = "redact"
    KEEP = "keep"


Box = tuple[float, float, float, float]
"""x1, y1, x2, y2 in float pixels, origin top-left, half-open, display-oriented frame."""


@dataclass(frozen=True)
class Region:
    """One area of one frame to hide (or, by decision, to keep) and why."""

    box: Box
    kind: Kind = Kind.FACE
    score: float = 1.0
    origin: Origin = Origin.DETECTED
    decision: Decision = Decision.REDACT
    track_id: int | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        # math rather than numpy, and enums converted only when given as strings: a long
        # video's plan holds hundreds of thousands of regions, and loading it must stay quick.
        box = tuple(map(float, self.box))
        if len(box) != 4 or not all(map(math.isfinite, box)):
            raise ValueError(f"box must be four finite numbers, got {self.box!r}")
        object.__setattr__(self, "box", box)
        if type(self.kind) is not Kind:
            object.__setattr__(self, "kind", Kind(self.kind))
        if type(self.origin) is not Origin:
            object.__setattr__(self, "origin", Origin(self.origin))
        if type(self.decision) is not Decision:
            object.__setattr__(self, "decision", Decision(self.decision))
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"score must lie in [0, 1], got {self.score}")


@dataclass(frozen=True)
class Detections:
    """Columnar detections of one kind in one frame: parallel arrays, like supervision's."""

    xyxy: npt.NDArray[np.float32]  # (N, 4)
    score: npt.NDArray[np.float32]  # (N,)
    kind: Kind = Kind.FACE

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        score = np.asarray(self.score, dtype=np.float32).reshape(-1)
        if len(xyxy) != len(score):
            raise ValueError(f"{len(xyxy)} boxes but {len(score)} scores")
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "score", score)
        object.__setattr__(self, "kind", Kind(self.kind))

    @classmethod
    def empty(cls, kind: Kind = Kind.FACE) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), kind)

    def __len__(self) -> int:
        return len(self.score)

    def regions(self) -> list[Region]:
        return [
            Region(tuple(b), self.kind, float(min(1.0, max(0.0, s))))
            for b, s in zip(self.xyxy.tolist(), self.score.tolist(), strict=True)
        ]


@dataclass(frozen=True)
class FrameRef:
    """Where a frame sits in its media: decode order index and exact presentation time."""

    index: int
    pts: int = 0
    time_base: Fraction = field(default_factory=lambda: Fraction(1, 1))

    @property
    def seconds(self) -> float:
        return float(self.pts * self.time_base)
