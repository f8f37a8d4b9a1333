"""Sample media that ship with faceless, for the first command and the demo."""

from __future__ import annotations

import importlib.resources
from pathlib import Path


def astronaut_path() -> Path:
    """NASA portrait of astronaut Eileen Collins (public domain), as shipped by scikit-image."""
    return Path(str(importlib.resources.files(__package__) / "astronaut.jpg"))
