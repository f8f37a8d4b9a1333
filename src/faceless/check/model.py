"""What a check of a release found: findings and the result, as data and as JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from faceless.core.types import Box

SUSPECT, UNAPPLIED, METADATA, FRAMES = "suspect", "unapplied", "metadata", "frames"
"""The four sorts of finding: something still looks sensitive; a region marked redact was
not applied; metadata that should be gone; the release's frames do not match the plan's."""


@dataclass(frozen=True)
class Finding:
    """One reason to doubt a release; `kind` is face/plate/text, or a metadata item."""

    check: str  # SUSPECT, UNAPPLIED, METADATA or FRAMES
    kind: str
    reason: str
    frame: int | None = None
    time: float | None = None
    box: Box | None = None
    score: float | None = None
    # Share of a face found on the source that the release left unchanged (None when the
    # finding does not come from comparing with the source).
    unchanged: float | None = None
    # A small RGB crop of the release around the box, for the contact sheet (not in JSON).
    crop: np.ndarray | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "kind": self.kind, "frame": self.frame,
                "time": None if self.time is None else round(self.time, 6),
                "box": None if self.box is None else [round(v, 2) for v in self.box],
                "score": None if self.score is None else round(self.score, 4),
                "unchanged": None if self.unchanged is None else round(self.unchanged, 4),
                "reason": self.reason}

    def line(self) -> str:
        """One line for a person: where, what, why."""
        where = "" if self.frame is None else f"frame {self.frame}"
        if self.time is not None and self.frame is not None:
            where += f" ({self.time:.3f}s)"
        box = "" if self.box is None else " at [" + ", ".join(f"{v:.0f}" for v in self.box) + "]"
        score = "" if self.score is None else f" score {self.score:.2f}"
        head = f"{where}: " if where else ""
        return f"{self.check} {self.kind}{box}{score}: {head}{self.reason}"


@dataclass
class CheckResult:
    """Everything a check found in one release, and what it could and could not check."""

    release: Path
    media: str
    source: Path | None = None
    plan: Path | None = None
    hide: tuple[str, ...] = ()
    every: int = 1
    threshold: float = 0.0
    frames: int = 0
    frames_scanned: int = 0
    # Suspects the scan found where the release is already hidden (changed from the source
    # or inside a region marked redact): counted, never findings (see faceless.check.scan).
    hidden: int = 0
    exempt: int = 0  # suspects inside regions the plan keeps visible on purpose
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def of(self, check: str) -> list[Finding]:
        return [f for f in self.findings if f.check == check]

    @property
    def ok(self) -> bool:
        return not self.findings

    def counts(self) -> dict[str, int]:
        """Findings per sort, as the audit log and the summary give them."""
        return {"suspects": len(self.of(SUSPECT)), "unapplied": len(self.of(UNAPPLIED)),
                "metadata": len(self.of(METADATA)), "frame_mismatches": len(self.of(FRAMES))}

    def to_dict(self) -> dict[str, Any]:
        return {"release": str(self.release), "media": self.media,
                "source": None if self.source is None else str(self.source),
                "plan": None if self.plan is None else str(self.plan),
                "ok": self.ok, "hide": list(self.hide), "every": self.every,
                "threshold": self.threshold, "frames": self.frames,
                "frames_scanned": self.frames_scanned, **self.counts(),
                "hidden": self.hidden, "exempt": self.exempt, "notes": list(self.notes),
                "seconds": round(self.seconds, 3),
                "findings": [f.to_dict() for f in self.findings]}
