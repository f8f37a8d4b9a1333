"""`faceless detect`: write the plan (what would be hidden) without touching any pixel."""

from __future__ import annotations

import argparse
from pathlib import Path

from faceless.analyze import Analyzer
from faceless.api import detect_file
from faceless.batch import plan_jobs
from faceless.cli.common import (
    Outcome,
    Reporter,
    add_audit_options,
    add_common,
    add_detect_options,
    audit_failed,
    build_options,
    error_line,
    open_audit,
)
from faceless.core.errors import FacelessError, OutputExistsError


def plan_name(src: Path) -> str:
    return f"{src.stem}.plan.json"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect", help="write the plan of what to hide (JSON), change nothing",
                       description="Find faces and write a plan per input "
                                   "(docs/reference/plan-schema.md). Edit it if needed, then "
                                   "apply it with `faceless render`.")
    p.add_argument("inputs", nargs="+", help="image or video files, or folders")
    p.add_argument("-o", "--output",
                   help="plan file, or folder for several inputs; default NAME.plan.json "
                        "beside each input, FOLDER.plans/ for a folder")
    p.add_argument("--overwrite", action="store_true", help="replace existing plans")
    add_detect_options(p, encodes=False)
    add_audit_options(p)
    add_common(p)
    p.set_defaults(func=main)


def main(a: argparse.Namespace) -> int:
    options = build_options(a)
    audit = open_audit(a)
    jobs, skipped = plan_jobs([Path(i) for i in a.inputs], a.output, plan_name,
                              lambda s: s.with_name(plan_name(s)), ".plans")
    analyzer = Analyzer(options)
    analyzer.setup()
    with Reporter(a.quiet, a.json) as rep:
        for job in jobs:
            if job.error:
                rep.done(Outcome(job.src, None, False, job.error))
                continue
            assert job.dst is not None
            try:
                if job.dst.exists() and not a.overwrite:
                    raise OutputExistsError(
                        f"{job.dst}: plan exists; pass --overwrite to replace it")
                plan = detect_file(job.src, progress=rep.item(job.src.name), analyzer=analyzer)
                job.dst.parent.mkdir(parents=True, exist_ok=True)
                plan.save(job.dst)
            except (FacelessError, OSError) as err:
                rep.done(Outcome(job.src, job.dst, False, error_line(err, job.src)))
                continue
            counts = plan.counts()
            outcome = Outcome(job.src, job.dst, True, details={
                "media": plan.source.media, "frames": len(plan.frames), "regions": counts,
                "summary": f"({len(plan.frames)} frame(s), {sum(counts.values())} region(s))",
                "warnings": list(plan.warnings)})
            if audit is not None:
                try:
                    audit.append("detect", inputs=[job.src], plans=[job.dst],
                                 settings=plan.settings, models=plan.models,
                                 details={"media": plan.source.media,
                                          "frames": len(plan.frames), "regions": counts})
                except FacelessError as err:
                    outcome = audit_failed(outcome, err)
            rep.done(outcome)
        return rep.finish(skipped)
