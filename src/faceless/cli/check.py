"""`faceless check`: re-scan a release for leaks; exit 1 when anything is suspect."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from faceless.audit import AuditLog
from faceless.check import SUSPECT, CheckResult, check_release, write_sheet
from faceless.cli.common import EXIT_FAILED, EXIT_OK, Reporter, _kinds, error_line
from faceless.core.errors import FacelessError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="re-scan a release for faces, plates or metadata left in it",
                       description="Re-scan a released image or video with the strongest "
                                   "settings, every frame on its own; with the source (--source, "
                                   "or the plan's), find the faces on the source and flag each "
                                   "one the release left mostly unchanged; with --plan, verify "
                                   "every region marked redact was applied; always look for "
                                   "metadata that should be gone. Exit 0 when clean, 1 when "
                                   "anything is suspect or the input is bad.")
    p.add_argument("release", type=Path, help="the released image or video")
    p.add_argument("--source", type=Path,
                   help="the original, to see what changed (default: the plan's source, "
                        "when it exists)")
    p.add_argument("--plan", type=Path, help="the plan the release was rendered from")
    p.add_argument("--hide", default=None,
                   help="kinds to look for, comma-separated from face, plate, text "
                        "(default: the plan's, else face,plate)")
    p.add_argument("--every", type=int, default=1, metavar="N",
                   help="scan every Nth frame of a video (default %(default)s: every frame)")
    p.add_argument("--sheet", type=Path, metavar="PNG",
                   help="contact sheet of the suspects (default NAME.check.png beside the "
                        "release, written only when there are suspects)")
    p.add_argument("--audit", type=Path, metavar="LOG", help="append a 'check' event to LOG")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the findings")
    p.set_defaults(func=main)


def _audit(log: Path, r: CheckResult) -> None:
    counts = r.counts()
    AuditLog(log).append(
        "check", inputs=[p for p in (r.release, r.source) if p is not None],
        plans=[r.plan] if r.plan is not None else [],
        details={"ok": r.ok, "suspects": counts["suspects"], "unapplied": counts["unapplied"],
                 "metadata": counts["metadata"], "frame_mismatches": counts["frame_mismatches"],
                 "frames_scanned": r.frames_scanned, "hidden": r.hidden,
                 "every": r.every, "threshold": r.threshold})


def main(a: argparse.Namespace) -> int:
    hide = sorted(str(k) for k in _kinds(a.hide)) if a.hide is not None else None
    with Reporter(a.quiet or a.json, a.json) as rep:
        try:
            r = check_release(a.release, source=a.source, plan=a.plan, hide=hide,
                              every=a.every, progress=rep.item(a.release.name))
        except (FacelessError, OSError) as err:
            print(f"error: {error_line(err, a.release)}", file=sys.stderr)
            return EXIT_FAILED
    sheet = None
    suspects = r.of(SUSPECT)
    if suspects:
        sheet = a.sheet or a.release.with_name(f"{a.release.stem}.check.png")
        write_sheet(suspects, sheet)
    for f in r.findings:
        print(f"{a.release}: {f.line()}", file=sys.stderr)
    if not a.quiet and not a.json:
        for note in r.notes:
            print(f"note: {a.release}: {note}", file=sys.stderr)
        c = r.counts()
        verdict = "ok" if r.ok else "SUSPECT"
        print(f"{verdict}: {a.release}: {c['suspects']} suspect(s), {c['unapplied']} "
              f"unapplied region(s), {c['metadata']} metadata item(s), "
              f"{c['frame_mismatches']} frame mismatch(es); {r.frames_scanned} of {r.frames} "
              f"frame(s) scanned for {','.join(r.hide)} (every {r.every}), {r.hidden} found "
              f"already hidden, face threshold {r.threshold}, {r.seconds:.1f}s"
              + (f"; contact sheet {sheet}" if sheet else ""), file=sys.stderr)
    if a.audit is not None:
        try:
            _audit(a.audit, r)
        except (FacelessError, OSError) as err:
            print(f"error: {error_line(err, a.audit)}", file=sys.stderr)
            return EXIT_FAILED
    if a.json:
        doc = r.to_dict() | {"sheet": None if sheet is None else str(sheet)}
        sys.stdout.write(json.dumps(doc, indent=1) + "\n")
    return EXIT_OK if r.ok else EXIT_FAILED
