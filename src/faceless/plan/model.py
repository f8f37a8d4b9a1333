"""Plan data model and its JSON form (schema documented in docs/reference/plan-schema.md)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

from faceless.core.errors import PlanError
from faceless.core.types import Box, Decision, Kind, Origin, Region

PLAN_SCHEMA = "faceless.plan"
PLAN_VERSION = 1


@dataclass(frozen=True)
class SourceInfo:
    """The media a plan was made for, pinned by hash so a plan is never applied to another."""

    path: str
    sha256: str
    media: str  # "image" or "video"
    width: int
    height: int
    time_base: Fraction = Fraction(1, 1)
    frame_count: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "media": self.media,
                "width": self.width, "height": self.height,
                "time_base": f"{self.time_base.numerator}/{self.time_base.denominator}",
                "frame_count": self.frame_count}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SourceInfo:
        return cls(str(d["path"]), str(d["sha256"]), str(d["media"]), int(d["width"]),
                   int(d["height"]), Fraction(str(d.get("time_base", "1/1"))),
                   None if d.get("frame_count") is None else int(d["frame_count"]))


@dataclass
class FramePlan:
    """The regions of one frame, keyed by its presentation timestamp."""

    index: int
    pts: int
    regions: list[Region] = field(default_factory=list)

    def to_dict(self, time_base: Fraction) -> dict[str, Any]:
        return {"index": self.index, "pts": self.pts,
                "time": round(float(self.pts * time_base), 6),
                "regions": [region_to_dict(r) for r in self.regions]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FramePlan:
        return cls(int(d["index"]), int(d["pts"]), [region_from_dict(r) for r in d["regions"]])


@dataclass
class Plan:
    """Everything needed to render: source, settings, model cards and per-frame regions."""

    source: SourceInfo
    frames: list[FramePlan]
    settings: dict[str, Any] = field(default_factory=dict)
    models: list[dict[str, str]] = field(default_factory=list)
    created_by: str = ""
    # Tracks (video): id, kind, first/last frame index, regions detected and added. Regions
    # carry their track id, so a reviewer can act on one person across the whole video.
    tracks: list[dict[str, Any]] = field(default_factory=list)
    # Review edits, oldest first (who, when, what, which track and frames, why); see
    # plan/edits.py. Written only when there is one, so unreviewed plans stay as they were.
    history: list[dict[str, Any]] = field(default_factory=list)

    def misplaced(self) -> list[tuple[int, Region]]:
        """(frame index, region) of every region added by hand that lies wholly outside its
        frame or has no area: an edit gone wrong, which would hide nothing. (Tracking may
        carry a region past the frame's edge as its object leaves; that is no mistake.)"""
        w, h = self.source.width, self.source.height
        return [(f.index, r) for f in self.frames for r in f.regions
                if r.origin is Origin.MANUAL
                and not (r.box[2] > r.box[0] and r.box[3] > r.box[1] and r.box[2] > 0
                         and r.box[3] > 0 and r.box[0] < w and r.box[1] < h)]

    def counts(self) -> dict[str, int]:
        """Regions to redact per kind, over all frames."""
        out: dict[str, int] = {}
        for f in self.frames:
            for r in f.regions:
                if r.decision is Decision.REDACT:
                    out[str(r.kind)] = out.get(str(r.kind), 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        d = {"schema": PLAN_SCHEMA, "version": PLAN_VERSION, "created_by": self.created_by,
             "source": self.source.to_dict(), "settings": self.settings,
             "models": self.models, "tracks": self.tracks,
             "frames": [f.to_dict(self.source.time_base) for f in self.frames]}
        if self.history:
            d["history"] = self.history
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Plan:
        if not isinstance(d, dict) or d.get("schema") != PLAN_SCHEMA:
            raise PlanError("not a faceless plan (the 'schema' field is not 'faceless.plan')")
        if d.get("version") != PLAN_VERSION:
            raise PlanError(f"plan version {d.get('version')!r} is not supported by this "
                            f"faceless (it reads version {PLAN_VERSION})")
        try:
            return cls(SourceInfo.from_dict(d["source"]),
                       [FramePlan.from_dict(f) for f in d["frames"]],
                       dict(d.get("settings", {})), list(d.get("models", [])),
                       str(d.get("created_by", "")), list(d.get("tracks", [])),
                       [dict(e) for e in d.get("history", [])])
        except (KeyError, TypeError, ValueError) as err:
            raise PlanError(f"malformed plan: {err!r}") from err

    def save(self, path: Path) -> None:
        """Write the plan as JSON atomically (temporary file, then rename)."""
        path = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.to_dict(), f, separators=(",", ":"))
                f.write("\n")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> Plan:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError as err:
            raise PlanError(f"{path}: no such plan file") from err
        except (OSError, UnicodeDecodeError) as err:
            raise PlanError(f"{path}: cannot read the plan: {err}") from err
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise PlanError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from err
        try:
            return cls.from_dict(data)
        except PlanError as err:
            raise PlanError(f"{path}: {err}") from err


def region_to_dict(r: Region) -> dict[str, Any]:
    d: dict[str, Any] = {"kind": str(r.kind), "box": [round(v, 2) for v in r.box],
                         "score": round(r.score, 4), "origin": str(r.origin),
                         "decision": str(r.decision)}
    if r.track_id is not None:
        d["track"] = r.track_id
    if r.reason:
        d["reason"] = r.reason
    return d


# Names to members by dict look-up: calling an enum per region is slow on long plans.
_KINDS = {str(k): k for k in Kind}
_ORIGINS = {str(o): o for o in Origin}
_DECISIONS = {str(d): d for d in Decision}


def region_from_dict(d: dict[str, Any]) -> Region:
    try:
        # Region itself turns the box into four floats, or rejects it.
        return Region(cast(Box, d["box"]), _KINDS[d.get("kind", "face")],
                      float(d.get("score", 1.0)), _ORIGINS[d.get("origin", "manual")],
                      _DECISIONS[d.get("decision", "redact")],
                      None if d.get("track") is None else int(d["track"]), str(d.get("reason", "")))
    except (KeyError, TypeError, ValueError) as err:
        raise PlanError(f"malformed region {d!r}: {err}") from err
