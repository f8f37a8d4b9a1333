"""One review case: the plan being edited, its media, its lock, saving and rendering."""

from __future__ import annotations

import contextlib
import io
import json
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from faceless.anonymize.redactor import Redactor
from faceless.api import Result, render_plan
from faceless.audit import AuditLog
from faceless.core.digest import sha256_file
from faceless.core.errors import FacelessError
from faceless.core.types import Box, Decision, Kind, Origin
from faceless.media.files import default_output
from faceless.media.video import AudioMode
from faceless.media.video.read import open_input
from faceless.options import Options, plan_specs
from faceless.plan import edits
from faceless.plan.candidates import candidate_warnings, promote
from faceless.plan.model import Plan
from faceless.plan.tracks import track_stats
from faceless.review import suspects as todo
from faceless.review.frames import FrameSource
from faceless.review.thumbs import best_regions, crop


class ReviewError(FacelessError, ValueError):
    """The case cannot be reviewed as asked (wrong media, already open, bad edit)."""


def _peek_source(plan_path: Path) -> Path | None:
    """The media a plan file names, read from its first bytes without parsing the rest (a
    guess to start hashing early: the parsed plan has the last word), or None."""
    try:
        with open(plan_path, encoding="utf-8") as f:
            head = f.read(1 << 16)
        at = head.index('"source":') + len('"source":')
        info, _ = json.JSONDecoder().raw_decode(head, at)
        recorded = Path(str(info["path"]))
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None
    for candidate in (recorded, plan_path.parent / recorded, plan_path.parent / recorded.name):
        if candidate.is_file():
            return candidate
    return None


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
                 audit: AuditLog | None = None, suspects: Path | None = None) -> None:
        self.plan_path = Path(plan_path)
        # Hash the media and look for its audio while the plan is parsed (hashlib and FFmpeg
        # let the other core work): the studio opens only once all are done.
        early = source if source is not None else _peek_source(self.plan_path)
        self.version = 0  # bumped by every edit, so the page refetches previews
        self._track_cache: tuple[int, list[dict[str, Any]], int] | None = None
        with ThreadPoolExecutor(2) as pool:
            hashing = pool.submit(sha256_file, early) if early is not None else None
            audio = pool.submit(_has_audio, early) if early is not None else None
            # Lazily: each frame's Region objects are built when first used (see fill()).
            self.plan = Plan.load(self.plan_path, lazy=True)  # PlanError: unknown version
            self.source = find_source(self.plan, self.plan_path, source)
            bad = self.plan.misplaced()
            self._tracks()  # the page asks for the track list first
            digest = (hashing.result() if hashing is not None and early == self.source
                      else sha256_file(self.source))
        if digest != self.plan.source.sha256:
            raise ReviewError(f"{self.source}: this file is not the one the plan was made for "
                              f"(sha256 {digest[:12]}…, plan expects "
                              f"{self.plan.source.sha256[:12]}…)")
        if bad:
            index, region = bad[0]
            raise ReviewError(f"{self.plan_path}: frame {index} has a region outside the "
                              f"{self.plan.source.width}x{self.plan.source.height} frame or with "
                              f"no area ({[round(v, 2) for v in region.box]}; {len(bad)} such "
                              "region(s) in all); fix or remove it in the plan")
        # Read before the media is opened: a suspects file of another video is refused early.
        self.suspects = [] if suspects is None else todo.load(Path(suspects), self.plan)
        self.actor = actor or (audit.actor if audit is not None else "") or _os_user()
        self.reasons = list(reasons)
        self.audit = audit
        self.frames = FrameSource(self.source, self.plan.source.media,
                                  pts=[f.pts for f in self.plan.frames])
        self._warning_cache: tuple[int, list[dict[str, Any]]] | None = None
        self._best_cache: tuple[int, dict[int, tuple[int, Box]]] | None = None
        # Thumbnails decode with a reader of their own: their far jumps must not undo the
        # viewer's place in the video, from which the next step decodes on.
        self._thumb_frames: FrameSource | None = None
        self.saved_version = 0
        self.lock = threading.RLock()
        self._filled = False
        self._warming: threading.Thread | None = None
        self._plan_lock = PlanLock(self.plan_path)
        self._index = {f.index: i for i, f in enumerate(self.plan.frames)}
        self.redactor = Redactor(plan_specs(self.plan.settings))  # as render_plan does
        self.has_audio = self.plan.source.media == "video" and (
            audio.result() if audio is not None and early == self.source
            else _has_audio(self.source))
        # The release keeps its audio as the plan's run did, unless the page says otherwise.
        self.keep_audio = self.has_audio and self.plan.settings.get("audio") == "keep"

    # lifetime -----------------------------------------------------------------------------
    def open(self) -> ReviewSession:
        self._plan_lock.acquire()
        return self

    def warm(self) -> None:
        """Decode the first frame in the background (the studio's browser is starting), so
        the page's first picture is ready sooner; any error is left for the page's request
        to report."""
        if self._warming is None and self.plan.frames:
            self._warming = threading.Thread(target=self._first_frame, daemon=True)
            self._warming.start()

    def _first_frame(self) -> None:
        with contextlib.suppress(Exception):
            self.frames.frame(self.plan.frames[0].index)

    def close(self) -> None:
        if self._warming is not None:
            self._warming.join()  # the reader is not closed under a decode
        self.frames.close()
        if self._thumb_frames is not None:
            self._thumb_frames.close()
        self._plan_lock.release()

    def __enter__(self) -> ReviewSession:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fill(self, chunk: int = 256) -> None:
        """Build the Region objects of every frame not built yet, `chunk` frames at a time,
        each under the lock: whatever needs the whole plan (an edit, the warnings) calls this
        first, so a frame asked for meanwhile waits for one chunk, not for all of them."""
        if self._filled:
            return
        for start in range(0, len(self.plan.frames), chunk):
            with self.lock:
                self.plan.build(start, chunk)
        self._filled = True

    # reading ------------------------------------------------------------------------------
    def has_frame(self, index: int) -> bool:
        return index in self._index

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

    def _tracks(self) -> tuple[list[dict[str, Any]], int]:
        """The track list and the count of regions without a track, kept per version."""
        if self._track_cache is not None and self._track_cache[0] == self.version:
            return self._track_cache[1], self._track_cache[2]
        stats = track_stats(self.plan)
        loose = sum(t.regions for t in stats if t.track is None)
        entries = {t.get("id"): t for t in self.plan.tracks}
        out = []
        for t in sorted((t for t in stats if t.track is not None), key=lambda t: t.track or 0):
            entry = entries.get(t.track) or {}
            out.append({"id": t.track, "kind": t.kind, "first": t.first_frame,
                        "last": t.last_frame, "frames": t.regions, **t.origins,
                        "decision": t.decision, "reasons": sorted(t.keep_reasons),
                        "review": entry.get("review", edits.UNREVIEWED),
                        "keys": [int(k["frame"]) for k in entry.get("keyframes") or []]})
        self._track_cache = (self.version, out, loose)
        return out, loose

    def summary(self) -> dict[str, Any]:
        """What the page needs to list frames and tracks. Frames go as their timestamps
        alone (the page works out times; indices only where they are not 0, 1, 2, ...): a
        long video has tens of thousands."""
        with self.lock:
            tb = self.plan.source.time_base
            pts = [f.pts for f in self.plan.frames]
            indices = [f.index for f in self.plan.frames]
            out, loose = self._tracks()
            dst = self.output_path()
            return {"source": {"name": self.source.name, "media": self.plan.source.media,
                               "width": self.plan.source.width,
                               "height": self.plan.source.height},
                    "plan": self.plan_path.name,
                    "frames": {"pts": pts, "time_base": [tb.numerator, tb.denominator],
                               "index": None if indices == list(range(len(indices)))
                               else indices},
                    "tracks": out,
                    "untracked_regions": loose, "reasons": self.reasons, "actor": self.actor,
                    "edits": len(self.plan.history), "version": self.version,
                    "unsaved": self.version != self.saved_version,
                    "output": dst.name, "output_exists": dst.exists(),
                    "audio": self.plan.audio, "has_audio": self.has_audio,
                    "keep_audio": self.keep_audio, "suspects": len(self.suspects)}

    def item(self) -> dict[str, Any]:
        """This case as one tile of a folder's grid: its name and what its plan hides."""
        self.fill()
        with self.lock:
            regions = [r for f in self.plan.frames for r in f.regions]
            return {"name": self.source.name, "media": self.plan.source.media,
                    "plan": self.plan_path.name, "frames": len(self.plan.frames),
                    "regions": len(regions),
                    "kept": sum(r.decision is Decision.KEEP for r in regions),
                    "manual": sum(r.origin is Origin.MANUAL for r in regions),
                    "edits": len(self.plan.history),
                    "unsaved": self.version != self.saved_version,
                    "rendered": self.output_path().exists()}

    def thumbnail(self, width: int = 240) -> bytes:
        """The first frame, small, with its regions outlined (kept ones in green)."""
        first = self.plan.frames[0].index if self.plan.frames else 0
        image = Image.fromarray(self.frames.frame(first))
        k = width / image.width
        image = image.resize((width, max(1, round(image.height * k))), Image.Resampling.BILINEAR)
        draw = ImageDraw.Draw(image)
        with self.lock:
            regions = self.frame_plan_regions(first) if self.plan.frames else []
        for r in regions:
            colour = "#19a974" if r.decision is Decision.KEEP else "#ff8c1a"
            draw.rectangle([v * k for v in r.box], outline=colour, width=2)
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=80)
        return buf.getvalue()

    def thumb_region(self, track: int) -> tuple[int, Box]:
        """The (frame index, box) a track's thumbnail shows (see thumbs.best_regions);
        KeyError for a track not in the plan."""
        self.fill()
        with self.lock:
            if self._best_cache is None or self._best_cache[0] != self.version:
                self._best_cache = (self.version, best_regions(self.plan))
            return self._best_cache[1][track]

    def track_thumbnail(self, index: int, box: Box) -> bytes:
        """A small JPEG of the source around `box` in frame `index`: the face itself, for the
        reviewer's eyes only. Made in memory and never written to disk."""
        with self.lock:
            if self._thumb_frames is None:
                self._thumb_frames = FrameSource(self.source, self.plan.source.media,
                                                 cache_size=2,
                                                 pts=[f.pts for f in self.plan.frames])
            frames = self._thumb_frames
        return crop(frames.frame(index), box)

    # editing ------------------------------------------------------------------------------
    def edit(self, action: str, track: int | None, body: dict[str, Any]) -> dict[str, Any]:
        """Apply one edit from the page; PlanError or ReviewError if it makes no sense."""
        self.fill()
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
            elif action in ("mute", "bleep"):
                entry = edits.add_audio(self.plan, float(body["start"]), float(body["end"]),
                                        action, self.actor, reason=str(body.get("reason", "")))
            elif action in ("exempt-region", "redact-region"):
                keep = action == "exempt-region"
                reason = str(body.get("reason", ""))
                if keep and reason not in self.reasons:
                    raise ReviewError(f"exempt: {reason!r} is not one of the case's reason "
                                      f"codes ({', '.join(self.reasons)})")
                entry = edits.decide_region(self.plan, int(body["frame"]), int(body["region"]),
                                            Decision.KEEP if keep else Decision.REDACT,
                                            reason, self.actor)
            elif action == "reshape-region":
                x1, y1, x2, y2 = (float(v) for v in body["box"])
                entry = edits.reshape_region(self.plan, int(body["frame"]), int(body["region"]),
                                             (x1, y1, x2, y2), self.actor)
            elif action == "promote":
                entry = promote(self.plan, int(body["frame"]), self.actor)
            elif action == "unmute":
                entry = edits.remove_audio(self.plan, int(body["id"]), self.actor)
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
            elif action == "reshape":
                x1, y1, x2, y2 = (float(v) for v in body["box"])
                index = int(body["frame"])
                lo, hi = _opt_int(body.get("first")), _opt_int(body.get("last"))
                manual = all(r.origin is Origin.MANUAL for f in self.plan.frames
                             for r in f.regions if r.track_id == track)
                if manual and lo in (None, index) and hi in (None, index):
                    # A drawn track: this frame becomes a keyframe, the rest re-interpolated.
                    entry = edits.set_keyframe(self.plan, track, index, (x1, y1, x2, y2),
                                               self.actor)
                else:
                    entry = edits.reshape_track(self.plan, track, index, (x1, y1, x2, y2),
                                                self.actor, lo, hi)
            elif action == "split":
                entry = edits.split_track(self.plan, track, int(body["frame"]), self.actor)
            elif action == "merge":
                entry = edits.merge_tracks(self.plan, track, int(body["with"]), self.actor)
            else:
                raise ReviewError(f"unknown edit {action!r}")
            self.version += 1
            return entry

    def suspect_list(self) -> list[dict[str, Any]]:
        """The leak check's suspects as to-do items, in frame order."""
        with self.lock:
            return [s.to_dict() for s in self.suspects]

    def suspect_edit(self, sid: int, action: str, reason: str = "") -> dict[str, Any]:
        """Hide suspect `sid` as a manual region over its frames, or dismiss it with a
        reason; either way the plan's history records it. KeyError for an unknown id."""
        self.fill()
        with self.lock:
            item = next((s for s in self.suspects if s.id == sid), None)
            if item is None:
                raise KeyError(f"no suspect {sid}")
            if item.state != todo.OPEN:
                raise ReviewError(f"suspect {sid} was already {item.state}")
            if action == "hide":
                why = todo.SUSPECT_REASON + (f": {reason.strip()}" if reason.strip() else "")
                entry = edits.add_manual(self.plan, item.boxes, item.first, item.last,
                                         self.actor, kind=_kind(item.kind), reason=why)
                item.state = todo.HIDDEN
            elif action == "dismiss":
                if not reason.strip():
                    raise ReviewError("dismiss: say why this suspect needs no hiding")
                entry = edits.dismiss(self.plan, item.first, item.last, item.kind,
                                      f"{todo.SUSPECT_REASON}: {reason.strip()}", self.actor)
                item.state = todo.DISMISSED
            else:
                raise ReviewError(f"unknown suspect action {action!r}")
            self.version += 1
            return entry

    def warnings(self) -> list[dict[str, Any]]:
        """Coverage warnings of the plan as it is now (see edits.coverage_warnings), and the
        low-score candidates nothing hides (see plan/candidates.py), in frame order."""
        self.fill()
        with self.lock:
            if self._warning_cache is not None and self._warning_cache[0] == self.version:
                return self._warning_cache[1]
            found = edits.coverage_warnings(self.plan) + candidate_warnings(self.plan)
            found.sort(key=lambda w: (w["first"], w["type"], w["track"] if
                                      w["track"] is not None else -1))
            self._warning_cache = (self.version, found)
            return found

    def save(self) -> dict[str, Any]:
        """Write the plan (keeping the machine's original once) and record it in the audit."""
        self.fill()
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

    def render(self, overwrite: bool = False, keep_audio: bool | None = None) -> Result:
        """Save, then render the saved plan to NAME.faceless.EXT beside the source, with its
        audio (muted where the plan says) when `keep_audio` (default: as the plan's run)."""
        with self.lock:
            if keep_audio is not None:
                self.keep_audio = bool(keep_audio) and self.has_audio
            if self.version != self.saved_version:
                self.save()
            plan = Plan.load(self.plan_path)  # exactly what was saved, not the live object
        dst = self.output_path()
        base = Options(overwrite=overwrite)
        audio = AudioMode.KEEP if self.keep_audio else AudioMode.DROP
        options = replace(base, video=replace(base.video, audio=audio))
        result = render_plan(plan, dst, source=self.source, options=options)
        if self.audit is not None:
            self.audit.append("render", inputs=[self.source], plans=[self.plan_path],
                              outputs=[dst], settings=plan.settings, models=plan.models,
                              details={"media": result.media, "frames": result.frames,
                                       "regions": result.regions})
        return result


def _has_audio(path: Path) -> bool:
    """Whether the media has an audio stream (no frame decoded: the hash already says the
    file is the one the plan was made from)."""
    container = open_input(path)
    try:
        return bool(container.streams.audio)
    finally:
        container.close()


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
