"""Head regions derived from person boxes: the whole head, whether or not a face shows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from faceless.core.errors import ConfigError
from faceless.core.types import Detections, Kind
from faceless.detect.base import Detector, ModelCard
from faceless.detect.persons import PersonDetector, PersonOptions


@dataclass(frozen=True)
class HeadOptions:
    """Where a head lies in a person's box (no head detector ships; see docs/decisions).

    A head is about half as wide as its person's box whether the box holds a whole standing
    body or only head and shoulders, so the head region spans the box's whole width and
    `height` times that width down from its top, never more than the box (a standing
    person's head and shoulders; most of a close-up's box). It reaches `above` of its height
    over the box's top edge (a detector's box often stops at the hairline or the forehead),
    and `side` of the box's width beyond each side.
    """

    height: float = 0.8
    above: float = 0.15
    side: float = 0.0

    def __post_init__(self) -> None:
        if not 0.1 <= self.height <= 3.0:
            raise ConfigError(f"head height must lie in [0.1, 3] box widths, got {self.height}")
        for name in ("above", "side"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"head {name} must lie in [0, 1], got {getattr(self, name)}")


def heads_from_persons(xyxy: np.ndarray, width: int, height: int,
                       options: HeadOptions | None = None) -> np.ndarray:
    """(N, 4) head boxes, one per person box in `xyxy`, clipped to the frame."""
    o = options or HeadOptions()
    p = np.asarray(xyxy, np.float32).reshape(-1, 4)
    w = p[:, 2] - p[:, 0]
    h = np.minimum(p[:, 3] - p[:, 1], o.height * w)
    out = np.stack([p[:, 0] - o.side * w, p[:, 1] - o.above * h,
                    p[:, 2] + o.side * w, p[:, 1] + h], 1)
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
    return out.astype(np.float32)


class HeadDetector(Detector):
    """Finds people and returns the region of each one's head (never who it is).

    Pass `persons` to share one person detector with the `person` kind: a frame is then
    searched for people once per detector, not once per kind.
    """

    kind = Kind.HEAD

    def __init__(self, options: HeadOptions | None = None,
                 persons: PersonDetector | PersonOptions | None = None) -> None:
        self.options = options or HeadOptions()
        self.persons = (persons if isinstance(persons, PersonDetector)
                        else PersonDetector(persons))

    @property
    def card(self) -> ModelCard:
        return self.persons.card

    def setup(self) -> None:
        self.persons.setup()

    def detect(self, image: np.ndarray) -> Detections:
        found = self.persons.detect(image)
        h, w = image.shape[:2]
        return Detections(heads_from_persons(found.xyxy, w, h, self.options), found.score,
                          Kind.HEAD)
