"""`faceless run`: detect and hide in one pass, for files and folders."""

from __future__ import annotations

import argparse
from pathlib import Path

from faceless.analyze import Analyzer
from faceless.api import anonymize_file
from faceless.batch import plan_jobs
from faceless.cli.common import (
    Outcome,
    Reporter,
    add_audit_options,
    add_common,
    add_detect_options,
    add_render_options,
    audit_failed,
    build_options,
    error_line,
    open_audit,
)
from faceless.core.errors import FacelessError
from faceless.media.files import default_output
from faceless.plan.model import Plan


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="hide every face in images and videos",
                       description="Detect and hide faces in images, videos and folders.")
    p.add_argument("inputs", nargs="+",
                   help="image or video files, or folders (searched recursively)")
    p.add_argument("--save-plan", action="store_true",
                   help="also write the applied plan as OUTPUT.plan.json (always done with "
                        "--audit, so the audit report can show what was hidden)")
    add_detect_options(p)
    add_render_options(p)
    add_audit_options(p)
    add_common(p)
    p.set_defaults(func=main)


def main(a: argparse.Namespace) -> int:
    options = build_options(a)
    audit = open_audit(a)
    jobs, skipped = plan_jobs([Path(i) for i in a.inputs], a.output, lambda f: f.name,
                              default_output, ".faceless")
    analyzer = Analyzer(options)
    analyzer.setup()  # a missing or altered model stops the run before any input (exit 2)
    with Reporter(a.quiet, a.json) as rep:
        for job in jobs:
            if job.error:
                rep.done(Outcome(job.src, None, False, job.error))
                continue
            assert job.dst is not None
            plan_path = (job.dst.with_name(job.dst.name + ".plan.json")
                         if a.save_plan or audit else None)
            try:
                r = anonymize_file(job.src, job.dst, plan_path=plan_path,
                                   progress=rep.item(job.src.name), analyzer=analyzer)
            except FacelessError as err:
                rep.done(Outcome(job.src, job.dst, False, error_line(err, job.src)))
                continue
            n = sum(r.regions.values())
            outcome = Outcome(job.src, job.dst, True, details={
                "media": r.media, "frames": r.frames, "regions": r.regions,
                "seconds": round(r.seconds, 3), "warnings": list(r.warnings),
                "summary": f"({r.frames} frame(s), {n} region(s) hidden, {r.seconds:.1f}s)"})
            if audit is not None and plan_path is not None:
                try:
                    plan = Plan.load(plan_path)
                    audit.append("run", inputs=[job.src], plans=[plan_path],
                                 outputs=[job.dst], settings=plan.settings, models=plan.models,
                                 details={"media": r.media, "frames": r.frames,
                                          "regions": r.regions})
                except FacelessError as err:
                    outcome = audit_failed(outcome, err)
            rep.done(outcome)
        return rep.finish(skipped)


