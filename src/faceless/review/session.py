"""One review case: the plan being edited, its media, its lock, saving and rendering."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from faceless.anonymize.redactor import Redactor
from faceless.api import Result, render_plan
from faceless.audit import AuditLog
from faceless.core.digest import sha256_file
from faceless.core.errors import FacelessError
from faceless.core.types import Kind
from faceless.media.files import default_output
from faceless.options import Options, plan_specs
from faceless.plan import edits
from faceless.plan.model import Plan
from faceless.plan.tracks import track_stats
from faceless.review.frames import FrameSource


class ReviewError(FacelessError, ValueError):
    """The case cannot be reviewed as asked (wrong media, already open, bad edit)."""


def find_source(plan: Plan, plan_path: Path, source: Path | None = None) -> Path:
    """The media file of a plan: `source` if given, else the path it records, taken as it is
    and then relative to the plan's folder (plans often travel with their media)."""
    if source is not None:
        return Path(source)
    recorded = Path(plan.source.path)
    for candidate in (recorded, plan_path.parent / recorded, plan_path.parent / recorded.name):
        if candidate.is_file():
            return candidate
    raise ReviewError(f"{plan_path}: its media {plan.source.path} was not found; pass "
                      "--source FILE")


class PlanLock:
    """A lock file beside the plan so two studios never edit it at once; a lock left by a
    process that is gone (a crash, a killed terminal) is taken over."""

    def __init__(self, plan_path: Path) -> None:
        self.path = plan_path.with_name(plan_path.name + ".lock")
        self.held = False

    def acquire(self) -> None:
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                pid = self._owner()
                if pid is not None and _alive(pid):
                    raise ReviewError(f"{self.path.with_suffix('')} is already open in a "
                                      f"review studio (process {pid}); close that one first"
                                      ) from None
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as f:
                f.write(f"{os.getpid()}\n")
            self.held = True
            return
        raise ReviewError(f"{self.path}: cannot take the review lock")

    def _owner(self) -> int | None:
        try:
            return int(self.path.read_text().strip())
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self.held and self._owner() == os.getpid():
            self.path.unlink(missing_ok=True)
        self.held = False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


class ReviewSession:
    """The plan under review and everything the studio does to it, thread-safe."""

    def __init__(self, plan_path: Path, *, source: Path | None = None, actor: str = "",
                 reasons: Sequence[str] = edits.DEFAULT_REASONS,
                 audit: AuditLog | None = None) -> None:
        self.plan_path = Path(plan_path)
        self.plan = Plan.load(self.plan_path)  # PlanError names an unknown version
        self.source = find_source(self.plan, self.plan_path, source)
        digest = sha256_file(self.source)
        if digest != self.plan.source.sha256:
            raise ReviewError(f"{self.source}: this file is not the one the plan was made for "
                              f"(sha256 {digest[:12]}…, plan expects "
                              f"{self.plan.source.sha256[:12]}…)")
        bad = self.plan.misplaced()
        if bad:
            index, region = bad[0]
            raise ReviewError(f"{self.plan_path}: frame {index} has a region outside the "
                              f"{self.plan.source.width}x{self.plan.source.height} frame or with "
                              f"no area ({[round(v, 2) for v in region.box]}; {len(bad)} such "
                              "region(s) in all); fix or remove it in the plan")
        self.actor = actor or (audit.actor if audit is not None else "") or _os_user()
        self.reasons = list(reasons)
        self.audit = audit
        self.frames = FrameSource(self.source, self.plan.source.media)
        self.version = 0  # bumped by every edit, so the page refetches previews
        self.saved_version = 0
        self.lock = threading.RLock()
        self._plan_lock = PlanLock(self.plan_path)
        self._index = {f.index: i for i, f in enumerate(self.plan.frames)}
        self.redactor = Redactor(plan_specs(self.plan.settings))  # as render_plan does

    # lifetime -----------------------------------------------------------------------------
    def open(self) -> ReviewSession:
        self._plan_lock.acquire()
        return self

    def close(self) -> None:
        self.frames.close()
        self._plan_lock.release()

    def __enter__(self) -> ReviewSession:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # reading ------------------------------------------------------------------------------
    def frame_plan_regions(self, index: int) -> list[Any]:
        i = self._index.get(index)
        if i is None:
            raise KeyError(index)
        return list(self.plan.frames[i].regions)

    def image(self, index: int, view: str) -> np.ndarray:
        """The frame as the source shows it, or as the release will (`view` "preview")."""
        with self.lock:
            regions = self.frame_plan_regions(index)  # KeyError for a frame not in the plan
        image = self.frames.frame(index)
        return self.redactor.hide(image, regions) if view == "preview" else image

    def summary(self) -> dict[str, Any]:
        """What the page needs to list frames and tracks."""
        with self.lock:
            tb = self.plan.source.time_base
            frames = [[f.index, f.pts, round(float(f.pts * tb), 6)] for f in self.plan.frames]
            stats = track_stats(self.plan)
            loose = sum(t.regions for t in stats if t.track is None)
            out = []
            for t in sorted((t for t in stats if t.track is not None),
                            key=lambda t: t.track or 0):
                assert t.track is not None
                entry = edits.track_entry(self.plan, t.track) or {}
                out.append({"id": t.track, "kind": t.kind, "first": t.first_frame,
                            "last": t.last_frame, "frames": t.regions, **t.origins,
                            "decision": t.decision, "reasons": sorted(t.keep_reasons),
                            "review": entry.get("review", edits.UNREVIEWED)})
            dst = self.output_path()
            return {"source": {"name": self.source.name, "media": self.plan.source.media,
                               "width": self.plan.source.width,
                               "height": self.plan.source.height},
                    "plan": self.plan_path.name, "frames": frames, "tracks": out,
                    "untracked_regions": loose, "reasons": self.reasons, "actor": self.actor,
                    "edits": len(self.plan.history), "version": self.version,
                    "unsaved": self.version != self.saved_version,
                    "output": dst.name, "output_exists": dst.exists()}

    # editing ------------------------------------------------------------------------------
    def edit(self, action: str, track: int | None, body: dict[str, Any]) -> dict[str, Any]:
        """Apply one edit from the page; PlanError or ReviewError if it makes no sense."""
        with self.lock:
            if action == "add":
                kind = str(body.get("kind", "face"))
                keys = {int(k["frame"]): tuple(float(v) for v in k["box"])
                        for k in body.get("keyframes", [])}
                if not keys:
                    raise ReviewError("draw a box on at least one frame first")
                first = int(body.get("first", min(keys)))
                last = int(body.get("last", max(keys)))
                entry = edits.add_manual(self.plan, keys, first, last,  # type: ignore[arg-type]
                                         self.actor, kind=_kind(kind),
                                         reason=str(body.get("reason", "")))
            elif track is None:
                raise ReviewError(f"{action}: which track?")
            elif action == "exempt":
                reason = str(body.get("reason", ""))
                if reason not in self.reasons:
                    raise ReviewError(f"exempt: {reason!r} is not one of the case's reason "
                                      f"codes ({', '.join(self.reasons)})")
                entry = edits.exempt_track(self.plan, track, reason, self.actor)
            elif action == "redact":
                entry = edits.redact_track(self.plan, track, self.actor)
            elif action == "approve":
                entry = edits.approve_track(self.plan, track, self.actor)
            elif action == "delete":
                entry = edits.delete_manual(self.plan, track, self.actor,
                                            _opt_int(body.get("first")),
                                            _opt_int(body.get("last")))
            elif action == "keyframe":
                x1, y1, x2, y2 = (float(v) for v in body["box"])  # ValueError if not 4
                entry = edits.set_keyframe(self.plan, track, int(body["frame"]),
                                           (x1, y1, x2, y2), self.actor)
            elif action == "split":
                entry = edits.split_track(self.plan, track, int(body["frame"]), self.actor)
            elif action == "merge":
                entry = edits.merge_tracks(self.plan, track, int(body["with"]), self.actor)
            else:
                raise ReviewError(f"unknown edit {action!r}")
            self.version += 1
            return entry

    def warnings(self) -> list[dict[str, Any]]:
        """Coverage warnings of the plan as it is now (see edits.coverage_warnings)."""
        with self.lock:
            return edits.coverage_warnings(self.plan)

    def save(self) -> dict[str, Any]:
        """Write the plan (keeping the machine's original once) and record it in the audit."""
        with self.lock:
            edits.save_reviewed(self.plan, self.plan_path)
            self.saved_version = self.version
            n = len(self.plan.history)
            if self.audit is not None:
                self.audit.append("review", inputs=[self.source], plans=[self.plan_path],
                                  details={"edits": n})
            return {"saved": self.plan_path.name, "edits": n,
                    "original": edits.original_path(self.plan_path).name}

    def output_path(self) -> Path:
        return default_output(self.source)

    def render(self, overwrite: bool = False) -> Result:
        """Save, then render the saved plan to NAME.faceless.EXT beside the source."""
        with self.lock:
            if self.version != self.saved_version:
                self.save()
            plan = Plan.load(self.plan_path)  # exactly what was saved, not the live object
        dst = self.output_path()
        result = render_plan(plan, dst, source=self.source, options=Options(overwrite=overwrite))
        if self.audit is not None:
            self.audit.append("render", inputs=[self.source], plans=[self.plan_path],
                              outputs=[dst], settings=plan.settings, models=plan.models,
                              details={"media": result.media, "frames": result.frames,
                                       "regions": result.regions})
        return result


def _opt_int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def _kind(name: str) -> Kind:
    try:
        return Kind(name)
    except ValueError as err:
        raise ReviewError(f"unknown kind {name!r}") from err


def _os_user() -> str:
    with contextlib.suppress(Exception):
        import getpass

        return getpass.getuser()
    return "unknown"


__all__ = ["PlanLock", "ReviewError", "ReviewSession", "find_source"]
