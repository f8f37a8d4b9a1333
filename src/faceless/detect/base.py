"""The Detector protocol every detector follows, its capabilities, and the model card it carries.

A detector states its whole contract here: the kind it finds, its model cards, `setup` to
load its models, and `detect` on one upright RGB frame. Detectors that can do more say so by
following a capability protocol as well; the analyzer checks each detector against them once,
when it is built, and never probes for methods afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from faceless.core.types import Detections, Kind


@dataclass(frozen=True)
class ModelCard:
    """What a model is and where it came from: recorded in plans and audit logs."""

    name: str
    sha256: str
    licence: str
    source: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "sha256": self.sha256, "licence": self.licence,
                "source": self.source}


@runtime_checkable
class Detector(Protocol):
    """Finds regions of one kind in an upright RGB uint8 image of shape (H, W, 3).

    Subclass it to inherit the defaults of `cards` (the one `card`) and `setup` (nothing to
    load); any class with the same members follows it too.
    """

    kind: Kind

    @property
    def card(self) -> ModelCard:
        """The card of the model whose scores the detections carry."""
        ...

    @property
    def cards(self) -> tuple[ModelCard, ...]:
        """Every model a decision of this detector rests on (recorded in plans)."""
        return (self.card,)

    def setup(self) -> None:
        """Load the models now (else on first use); a second call does nothing."""
        return None

    def detect(self, image: np.ndarray) -> Detections:
        """Everything of `kind` found in the whole image, with confidence, in image pixels."""
        ...


@runtime_checkable
class CandidateDetector(Detector, Protocol):
    """Also returns low-score candidates of a whole frame, which only tracking may accept."""

    def detect_all(self, image: np.ndarray, candidates: bool = True,
                   video: bool = False) -> tuple[Detections, Detections]:
        """Confident detections and candidates (empty unless asked for); `video` selects the
        per-frame budget of a video frame over the fuller search of a photo."""
        ...


@runtime_checkable
class ScaledDetector(Detector, Protocol):
    """Can search a crop at the scale its main pass gives a whole frame.

    Between whole-frame searches, a video's analysis looks closer at crops around the
    regions that tracking expects (see detect.sparse): a crop must be searched at the
    frame's scale, not upscaled for being small.
    """

    def main_pass(self, width: int, height: int) -> float:
        """The scale of the main pass over a whole frame of this size."""
        ...

    def detect(self, image: np.ndarray, passes: Sequence[float] | None = None) -> Detections:
        """As Detector.detect, at the scales `passes` when given."""
        ...
