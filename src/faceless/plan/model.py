"""Plan data model and its JSON form (schema documented in docs/reference/plan-schema.md)."""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

from faceless.core.errors import PlanError
from faceless.core.types import Box, Decision, Kind, Origin, Region

PLAN_SCHEMA = "faceless.plan"
# The newest version this faceless writes. A plan is written with the lowest version that
# holds its content, so an older faceless still reads a plan without the newer parts, and
# refuses one it would render wrongly (version 2: audio ranges to silence).
PLAN_VERSION = 2
READS_VERSIONS = (1, 2)
AUDIO_ACTIONS = ("mute", "bleep")


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
    # The strongest low-score detections that were not accepted (nothing hides them): where
    # a reviewer should look. Kind, box and score only; see plan/candidates.py.
    candidates: list[Region] = field(default_factory=list)

    def to_dict(self, time_base: Fraction) -> dict[str, Any]:
        d = {"index": self.index, "pts": self.pts,
             "time": round(float(self.pts * time_base), 6),
             "regions": [region_to_dict(r) for r in self.regions]}
        if self.candidates:
            # Compact rows, [kind, x1, y1, x2, y2, score]: a long video has many.
            d["candidates"] = [[str(c.kind), *(round(v, 1) for v in c.box), round(c.score, 3)]
                               for c in self.candidates]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FramePlan:
        return cls(int(d["index"]), int(d["pts"]), [region_from_dict(r) for r in d["regions"]],
                   [candidate_from_row(c) for c in d.get("candidates", ())])

    @property
    def raw_regions(self) -> list[dict[str, Any]] | None:
        """The regions as the plan file gave them while not yet built (see LazyFramePlan);
        None once they are Region objects."""
        return None


class LazyFramePlan(FramePlan):
    """A frame read from a plan file whose Region objects are built on first use.

    Opening a long plan then costs the JSON parse alone: the studio shows one frame at a
    time, and its track list is counted from the regions as read (see plan/tracks.py). A
    malformed region is a PlanError when its frame is first used, not when the plan is read.
    """

    def __init__(self, index: int, pts: int, raw: list[dict[str, Any]],
                 candidates: list[Region]) -> None:
        self.index = index
        self.pts = pts
        self.candidates = candidates
        self._raw: list[dict[str, Any]] | None = raw
        self._regions: list[Region] = []

    @property
    def regions(self) -> list[Region]:
        if self._raw is not None:
            if not isinstance(self._raw, list):
                raise PlanError(f"malformed plan: the regions of frame {self.index} are not "
                                "a list")
            try:
                self._regions = [region_from_dict(r) for r in self._raw]
            except PlanError as err:
                raise PlanError(f"frame {self.index}: {err}") from err
            except AttributeError as err:  # a region that is not an object
                raise PlanError(f"frame {self.index}: malformed region ({err})") from err
            self._raw = None
        return self._regions

    @regions.setter
    def regions(self, value: list[Region]) -> None:
        self._regions = value
        self._raw = None

    @property
    def raw_regions(self) -> list[dict[str, Any]] | None:
        return self._raw

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FramePlan):
            return NotImplemented
        return (self.index, self.pts, self.regions, self.candidates) == (
            other.index, other.pts, other.regions, other.candidates)

    __hash__ = None  # type: ignore[assignment]


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
    # What the run that made the plan warned about (a video that ends before its container
    # says); written only when there is one.
    warnings: list[str] = field(default_factory=list)
    # Audio ranges to silence (video): id, start and end in seconds on the frames' clock,
    # action ("mute" or "bleep") and reason. Written only when there is one.
    audio: list[dict[str, Any]] = field(default_factory=list)

    @property
    def version(self) -> int:
        """The version this plan is written with: 2 only when it holds audio ranges."""
        return 2 if self.audio else 1

    def misplaced(self) -> list[tuple[int, Region]]:
        """(frame index, region) of every region added by hand that lies wholly outside its
        frame or has no area: an edit gone wrong, which would hide nothing. (Tracking may
        carry a region past the frame's edge as its object leaves; that is no mistake.)"""
        w, h = self.source.width, self.source.height
        out = []
        for f in self.frames:
            raw = f.raw_regions
            # A frame not yet built: only its hand-made regions are built to be checked.
            found = (f.regions if raw is None else
                     [region_from_dict(d) for d in raw
                      if isinstance(d, dict) and d.get("origin", "manual") == "manual"])
            out += [(f.index, r) for r in found if r.origin is Origin.MANUAL
                    and not (r.box[2] > r.box[0] and r.box[3] > r.box[1] and r.box[2] > 0
                             and r.box[3] > 0 and r.box[0] < w and r.box[1] < h)]
        return out

    def counts(self) -> dict[str, int]:
        """Regions to redact per kind, over all frames."""
        out: dict[str, int] = {}
        for f in self.frames:
            for r in f.regions:
                if r.decision is Decision.REDACT:
                    out[str(r.kind)] = out.get(str(r.kind), 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        d = {"schema": PLAN_SCHEMA, "version": self.version, "created_by": self.created_by,
             "source": self.source.to_dict(), "settings": self.settings,
             "models": self.models, "tracks": self.tracks,
             "frames": [f.to_dict(self.source.time_base) for f in self.frames]}
        if self.history:
            d["history"] = self.history
        if self.warnings:
            d["warnings"] = self.warnings
        if self.audio:
            d["audio"] = self.audio
        return d

    def build(self, first: int = 0, count: int | None = None) -> int:
        """Build the Region objects of frames [first, first + count) not yet built (a plan
        read with `lazy`); returns how many frames were built."""
        n = 0
        for f in self.frames[first:None if count is None else first + count]:
            if f.raw_regions is not None:
                f.regions  # noqa: B018 - building them is the point
                n += 1
        return n

    @classmethod
    def from_dict(cls, d: dict[str, Any], lazy: bool = False) -> Plan:
        """The plan of a parsed plan document; with `lazy`, each frame's Region objects are
        built on first use (see LazyFramePlan)."""
        if not isinstance(d, dict) or d.get("schema") != PLAN_SCHEMA:
            raise PlanError("not a faceless plan (the 'schema' field is not 'faceless.plan')")
        version = d.get("version")
        if type(version) is not int or version not in READS_VERSIONS:
            raise PlanError(f"plan version {version!r} is not supported by this faceless (it "
                            f"reads versions {', '.join(map(str, READS_VERSIONS))})")
        try:
            plan = cls(SourceInfo.from_dict(d["source"]),
                       [_lazy_frame(f) for f in d["frames"]] if lazy
                       else [FramePlan.from_dict(f) for f in d["frames"]],
                       dict(d.get("settings", {})), list(d.get("models", [])),
                       str(d.get("created_by", "")), list(d.get("tracks", [])),
                       [dict(e) for e in d.get("history", [])],
                       [str(w) for w in d.get("warnings", [])],
                       audio=[audio_range(a) for a in d.get("audio", [])])
        except (KeyError, TypeError, ValueError) as err:
            raise PlanError(f"malformed plan: {err!r}") from err
        if version < 2 and plan.audio:
            raise PlanError("audio ranges need a version 2 plan; this one says version 1")
        return plan

    def save(self, path: Path) -> None:
        """Write the plan as JSON atomically (temporary file, then rename)."""
        path = Path(path)
        # In one piece: json.dumps encodes in C, json.dump to a file in Python, slowly.
        with _collector_paused():
            text = json.dumps(self.to_dict(), separators=(",", ":"))
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.write("\n")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path, lazy: bool = False) -> Plan:
        """Read a plan file; PlanError if it is missing, not a plan or malformed. With
        `lazy`, frames build their Region objects on first use (a malformed region is found
        then): for reading a long plan quickly, as the review studio does."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError as err:
            raise PlanError(f"{path}: no such plan file") from err
        except (OSError, UnicodeDecodeError) as err:
            raise PlanError(f"{path}: cannot read the plan: {err}") from err
        with _collector_paused():
            try:
                data = json.loads(text)
            except json.JSONDecodeError as err:
                raise PlanError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})"
                                ) from err
            try:
                return cls.from_dict(data, lazy)
            except PlanError as err:
                raise PlanError(f"{path}: {err}") from err


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector paused: a long plan makes a million small objects, none in a
    cycle, and the collector would otherwise walk them again and again while they are made."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _lazy_frame(d: dict[str, Any]) -> LazyFramePlan:
    return LazyFramePlan(int(d["index"]), int(d["pts"]), d["regions"],
                         [candidate_from_row(c) for c in d.get("candidates", ())])


def candidate_from_row(row: list[Any]) -> Region:
    """A candidate row of a plan, [kind, x1, y1, x2, y2, score], as a Region."""
    try:
        kind, x1, y1, x2, y2, score = row
        return Region((x1, y1, x2, y2), _KINDS[kind], float(score), Origin.DETECTED,
                      Decision.REDACT, None, "")
    except (KeyError, TypeError, ValueError) as err:
        raise PlanError(f"malformed candidate {row!r}: {err}") from err


def audio_range(d: dict[str, Any]) -> dict[str, Any]:
    """One audio range of a plan, checked: 0 <= start < end seconds, a known action."""
    start, end = float(d["start"]), float(d["end"])
    action = str(d.get("action", "mute"))
    if action not in AUDIO_ACTIONS:
        raise ValueError(f"audio action {action!r} is not one of {', '.join(AUDIO_ACTIONS)}")
    if not 0 <= start < end < float("inf"):
        raise ValueError(f"audio range {start}–{end} s is empty or not a time")
    return {**d, "start": start, "end": end, "action": action}


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


# Loading a long plan makes hundreds of thousands of regions. When Region has exactly the
# fields below, they are checked here as Region's own __post_init__ checks them and set
# directly, at a third of the cost; otherwise (Region changed) Region itself is called.
_FIELDS = ("box", "kind", "score", "origin", "decision", "track_id", "reason")
_DIRECT = tuple(f.name for f in fields(Region)) == _FIELDS
_isfinite = math.isfinite


def region_from_dict(d: dict[str, Any]) -> Region:
    try:
        kind = _KINDS[d.get("kind", "face")]
        score = float(d.get("score", 1.0))
        origin = _ORIGINS[d.get("origin", "manual")]
        decision = _DECISIONS[d.get("decision", "redact")]
        track = d.get("track")
        track = None if track is None else int(track)
        reason = str(d.get("reason", ""))
        if not _DIRECT:
            # Region itself turns the box into four floats, or rejects it.
            return Region(cast(Box, d["box"]), kind, score, origin, decision, track, reason)
        x1, y1, x2, y2 = d["box"]
        box = (float(x1), float(y1), float(x2), float(y2))
        if not (_isfinite(box[0]) and _isfinite(box[1]) and _isfinite(box[2])
                and _isfinite(box[3])):
            raise ValueError(f"box must be four finite numbers, got {d['box']!r}")
        if not 0.0 <= score <= 1.0:
            raise ValueError(f"score must lie in [0, 1], got {score}")
        region = _new(Region)
        _set(region, "box", box)
        _set(region, "kind", kind)
        _set(region, "score", score)
        _set(region, "origin", origin)
        _set(region, "decision", decision)
        _set(region, "track_id", track)
        _set(region, "reason", reason)
        return region
    except (KeyError, TypeError, ValueError) as err:
        raise PlanError(f"malformed region {d!r}: {err}") from err


_new = object.__new__
_set = object.__setattr__
