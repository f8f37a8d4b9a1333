"""The redactor: hides a frame's regions with the operator chosen for each kind."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from faceless.anonymize.operators import OperatorSpec, redact
from faceless.core.errors import AnalysisError
from faceless.core.types import Kind, Region

Span = tuple[int, int, int, int]
"""A half-open pixel span x1, y1, x2, y2."""


class Redactor:
    """Applies regions to frames, one operator a kind; any failure fails the item."""

    def __init__(self, specs: Mapping[Kind, OperatorSpec]) -> None:
        self.specs = dict(specs)

    def hide(self, image: np.ndarray, regions: Iterable[Region]) -> np.ndarray:
        """A copy of `image` with every region marked redact hidden."""
        return self.redact(image, regions)[0]

    def redact(self, image: np.ndarray, regions: Iterable[Region]
               ) -> tuple[np.ndarray, list[Span]]:
        """The hidden image, and the pixel spans written to (the rest is `image` exactly)."""
        try:
            return redact(image, list(regions), self.specs)
        except Exception as err:  # fail closed: a frame that cannot be hidden is not written
            raise AnalysisError(f"anonymizing failed: {err!r}") from err
