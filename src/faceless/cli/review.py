"""`faceless review`: open a plan (or a media file, detected first) in the local review studio."""

from __future__ import annotations

import argparse
import contextlib
import sys
import webbrowser
from pathlib import Path

from faceless.api import detect_file, media_kind
from faceless.audit import AuditLog
from faceless.cli.common import (
    EXIT_OK,
    UsageError,
    add_detect_options,
    build_options,
    open_audit,
)
from faceless.core.errors import UnsupportedFormatError
from faceless.media.files import OUTPUT_TAG
from faceless.plan.edits import DEFAULT_REASONS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "review", help="review a plan in a local web studio (exempt, approve, add, render)",
        description="Open a plan in the review studio, a page served on this computer only "
                    "(127.0.0.1). Given a media file, detect first and write NAME.plan.json "
                    "beside it (unless it exists). Needs the extra: pip install "
                    "'faceless[review]'.")
    p.add_argument("input", type=Path, metavar="PLAN_MEDIA_OR_FOLDER",
                   help="a plan (*.plan.json), the photo or video to review, or a folder of "
                        "them (shown as a grid; each file gets its own plan beside it)")
    p.add_argument("--source", type=Path,
                   help="the media file, when it moved since the plan was written (its "
                        "sha256 is checked)")
    p.add_argument("--suspects", type=Path, metavar="CHECK_JSON",
                   help="the saved output of `faceless check --json` for this file: its "
                        "suspects are listed as a to-do list (hide or dismiss each)")
    p.add_argument("--port", type=int, default=0,
                   help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--no-browser", action="store_true",
                   help="print the studio's link but do not open a browser")
    p.add_argument("--reasons", type=Path, metavar="FILE",
                   help="exemption reason codes, one a line (default: "
                        f"{', '.join(DEFAULT_REASONS)})")
    g = p.add_argument_group("audit")
    g.add_argument("--audit", type=Path, metavar="LOG",
                   help="append a 'review' event to LOG at each save (and 'render' at each "
                        "render)")
    g.add_argument("--actor", metavar="NAME",
                   help="who reviews, for the plan's edit history and the audit log "
                        "(default: the OS user)")
    add_detect_options(p, encodes=False)
    p.add_argument("-q", "--quiet", action="store_true", help="print only the link and errors")
    p.set_defaults(func=main)


def read_reasons(path: Path | None) -> list[str]:
    if path is None:
        return list(DEFAULT_REASONS)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise UsageError(f"--reasons {path}: cannot read it ({err.strerror or err})") from err
    codes = [c.strip() for c in lines if c.strip() and not c.lstrip().startswith("#")]
    if not codes:
        raise UsageError(f"--reasons {path}: no reason codes in it (one a line)")
    return codes


def folder_media(folder: Path) -> list[Path]:
    """The photos and videos directly in `folder`, by name; releases (NAME.faceless.EXT) and
    hidden files are not cases."""
    found = []
    for path in sorted(folder.iterdir()):
        if (not path.is_file() or path.name.startswith(".")
                or f".{OUTPUT_TAG}." in path.name or path.name.endswith(".json")):
            continue
        try:
            media_kind(path)
        except UnsupportedFormatError:
            continue
        found.append(path)
    if not found:
        raise UsageError(f"{folder}: no photos or videos in it")
    stems: dict[str, Path] = {}
    for path in found:
        other = stems.setdefault(path.stem, path)
        if other is not path:  # both would get NAME.plan.json
            raise UsageError(f"{other.name} and {path.name} in {folder} would share one plan "
                             f"({path.stem}.plan.json); rename one")
    return found


def plan_for(a: argparse.Namespace, src: Path | None = None) -> Path:
    """The plan to open: the input itself, or the plan beside a media file (made if missing)."""
    src = a.input if src is None else src
    if src.name.endswith(".json"):
        return src
    try:
        media_kind(src)
    except UnsupportedFormatError as err:
        raise UsageError(f"{src}: give a plan (*.plan.json) or a photo or video") from err
    plan_path = src.with_name(f"{src.stem}.plan.json")
    if plan_path.exists():
        print(f"using the existing plan {plan_path}", file=sys.stderr)
        return plan_path
    if not a.quiet:
        print(f"detecting {src} (this may take a while) ...", file=sys.stderr)
    detect_file(src, build_options(a)).save(plan_path)
    print(f"wrote {plan_path}", file=sys.stderr)
    return plan_path


def main(a: argparse.Namespace) -> int:
    try:
        from faceless.review.server import Studio
        from faceless.review.session import ReviewSession
    except ImportError as err:
        raise UsageError(f"the review studio needs Starlette and uvicorn ({err.name} is "
                         "missing): pip install 'faceless[review]'") from err
    reasons = read_reasons(a.reasons)
    # --actor alone still names the reviewer in the plan's edit history.
    audit: AuditLog | None = open_audit(a) if a.audit is not None else None
    if a.input.is_dir():
        if a.source is not None or a.suspects is not None:
            raise UsageError("--source and --suspects name one file; they cannot go with a "
                             "folder")
        plans = [plan_for(a, path) for path in folder_media(a.input)]
    else:
        plans = [plan_for(a)]
    with contextlib.ExitStack() as stack:
        sessions = [stack.enter_context(ReviewSession(p, source=a.source, actor=a.actor or "",
                                                      reasons=reasons, audit=audit,
                                                      suspects=a.suspects))
                    for p in plans]
        what = plans[0] if len(plans) == 1 else f"{a.input} ({len(plans)} files)"
        studio = Studio(sessions, a.port)
        print(f"review studio for {what}: {studio.url}", flush=True)
        if not a.quiet:
            print("only this computer can open it; press Ctrl+C to stop (save first)",
                  file=sys.stderr)
        if not a.no_browser:
            webbrowser.open(studio.url)
        try:
            studio.run()
        finally:
            for session in sessions:
                if session.version != session.saved_version:
                    print(f"warning: {session.plan_path.name}: "
                          f"{session.version - session.saved_version} edit(s) were not "
                          "saved", file=sys.stderr)
    return EXIT_OK
