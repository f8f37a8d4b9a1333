"""The Detector protocol every detector follows, and the model card it carries."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
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
    """Finds regions of one kind in an upright RGB uint8 image of shape (H, W, 3)."""

    kind: Kind

    @property
    def card(self) -> ModelCard: ...

    def detect(self, image: np.ndarray) -> Detections: ...


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks so large media do not fill memory."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
