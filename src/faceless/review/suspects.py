"""A leak check's suspects as the studio's to-do list: read, checked against the plan, grouped."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faceless.core.errors import FacelessError
from faceless.core.types import Box, Kind
from faceless.plan.model import Plan

SUSPECT = "suspect"
"""faceless.check's name for a finding that still looks sensitive (spelt out here: importing
the check package would slow the studio's start)."""

SUSPECT_REASON = "leak check suspect"
"""What the plan's history says of an edit made from a suspect; also how a reopened studio
knows which suspects were already dealt with."""

OPEN, HIDDEN, DISMISSED = "open", "hidden", "dismissed"


class SuspectsError(FacelessError, ValueError):
    """A suspects file that cannot be read, or whose findings are not of this source."""


@dataclass
class Suspect:
    """One to-do item: a run of findings of one kind over consecutive checked frames."""

    id: int
    kind: str
    boxes: dict[int, Box] = field(default_factory=dict)  # frame index -> box
    score: float = 0.0
    reason: str = ""
    state: str = OPEN

    @property
    def first(self) -> int:
        return min(self.boxes)

    @property
    def last(self) -> int:
        return max(self.boxes)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "first": self.first, "last": self.last,
                "frames": len(self.boxes), "score": round(self.score, 4),
                "reason": self.reason, "state": self.state,
                "boxes": {str(k): [round(v, 2) for v in b] for k, b in self.boxes.items()}}


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def read_findings(path: Path, plan: Plan) -> tuple[list[dict[str, Any]], int]:
    """The suspect findings of a saved `faceless check --json` and the check's frame step;
    SuspectsError if the file is unreadable or its findings fall outside this plan's frames."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise SuspectsError(f"--suspects {path}: cannot read it ({err.strerror or err})"
                            ) from err
    except (ValueError, UnicodeDecodeError) as err:
        raise SuspectsError(f"--suspects {path}: not the JSON of `faceless check --json` "
                            f"({err})") from err
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        raise SuspectsError(f"--suspects {path}: not the JSON of `faceless check --json` "
                            "(no findings list in it)")
    indices = {f.index for f in plan.frames}
    w, h = plan.source.width, plan.source.height
    found = []
    for item in data["findings"]:
        if not isinstance(item, dict) or item.get("check") != SUSPECT:
            continue  # metadata and the like are no region to hide
        try:
            frame = int(item["frame"])
            box = tuple(float(v) for v in item["box"])
            kind = Kind(str(item["kind"]))
        except (KeyError, TypeError, ValueError) as err:
            raise SuspectsError(f"--suspects {path}: a suspect without a frame, box or known "
                                f"kind ({item})") from err
        # Boxes may round past the edge by a pixel; more than that is another video.
        if (frame not in indices or len(box) != 4 or box[0] < -1 or box[1] < -1
                or box[2] > w + 1 or box[3] > h + 1):
            raise SuspectsError(f"--suspects {path}: its findings are not of this source "
                                f"(frame {frame}, box {list(box)}; the plan has frames "
                                f"{min(indices, default=0)} to {max(indices, default=0)} of "
                                f"{w}x{h})")
        found.append({"frame": frame, "box": box, "kind": str(kind),
                      "score": float(item.get("score") or 0.0),
                      "reason": str(item.get("reason") or "")})
    try:
        every = max(1, int(data.get("every") or 1))
    except (TypeError, ValueError):
        every = 1
    return found, every


def group(findings: list[dict[str, Any]], every: int = 1) -> list[Suspect]:
    """To-do items: a finding joins the item of its kind whose last box, at most `every`
    frames before (the check's step), it overlaps; otherwise it starts one."""
    items: list[Suspect] = []
    for f in sorted(findings, key=lambda f: (f["frame"], f["kind"], f["box"])):
        frame, box = f["frame"], f["box"]
        home = next((s for s in items if s.kind == f["kind"] and 0 < frame - s.last <= every
                     and _overlap(s.boxes[s.last], box)), None)
        if home is None:
            home = Suspect(len(items) + 1, f["kind"], reason=f["reason"])
            items.append(home)
        home.boxes[frame] = box
        home.score = max(home.score, f["score"])
    return items


def mark_done(items: list[Suspect], plan: Plan) -> None:
    """Mark the items the plan's history already hid or dismissed (a studio opened again)."""
    for entry in plan.history:
        if not str(entry.get("reason", "")).startswith(SUSPECT_REASON):
            continue
        span = entry.get("frames")
        for s in items:
            if s.state == OPEN and span == [s.first, s.last] and entry.get("kind") == s.kind:
                s.state = HIDDEN if entry.get("action") == "add" else DISMISSED


def load(path: Path, plan: Plan) -> list[Suspect]:
    """The to-do list of a suspects file for `plan`, with what was already done marked."""
    items = group(*read_findings(path, plan))
    mark_done(items, plan)
    return items


__all__ = ["DISMISSED", "HIDDEN", "OPEN", "SUSPECT_REASON", "Suspect", "SuspectsError",
           "group", "load", "mark_done", "read_findings"]
