"""Shared fixtures: real photos that ship inside installed packages, textured test images."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """A real portrait photo (Eileen Collins, public domain) shipped with scikit-image."""
    skimage_data = pytest.importorskip("skimage.data")
    return np.ascontiguousarray(skimage_data.astronaut())


@pytest.fixture()
def texture() -> np.ndarray:
    """A 120x160 RGB image where every pixel differs from its neighbours."""
    rng = np.random.default_rng(7)
    return rng.integers(0, 256, size=(120, 160, 3), dtype=np.uint8)
