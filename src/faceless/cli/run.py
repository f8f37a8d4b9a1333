"""`faceless run`: detect and hide in one pass, for files and folders."""

from __future__ import annotations

import argparse
import contextlib
import time
from dataclasses import asdict, replace
from pathlib import Path

from faceless.analyze import Analyzer
from faceless.api import anonymize_file
from faceless.audit import AuditLog
from faceless.batch import Ledger, output_folder, plan_jobs
from faceless.batch.ledger import decide, settings_hash, stale_temporaries
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
from faceless.core.digest import sha256_file
from faceless.core.errors import FacelessError
from faceless.media.files import default_output
from faceless.options import Options
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




def run_settings(options: Options, plans: bool) -> dict[str, object]:
    """What decides an output's bytes: a change redoes the items a ledger shows as done."""
    model = options.face.model_path
    return {"options": options.settings(), "video": asdict(options.video),
            "image": asdict(options.image), "plans": plans,
            "model": sha256_file(model) if model is not None else None}


def main(a: argparse.Namespace) -> int:
    options = build_options(a)
    audit = open_audit(a)
    inputs = [Path(i) for i in a.inputs]
    jobs, skipped = plan_jobs(inputs, a.output, lambda f: f.name, default_output, ".faceless")
    analyzer = Analyzer(options)
    analyzer.setup()  # a missing or altered model stops the run before any input (exit 2)
    # A run into a folder keeps a ledger there, so running it again resumes.
    out = output_folder(inputs, a.output)
    ledger = (Ledger.for_folder(out) if out is not None and any(j.dst for j in jobs)
              else None)
    shash = settings_hash(run_settings(options, a.save_plan or audit is not None))
    replacing: Analyzer | None = None  # the same detectors, replacing outputs proven ours
    with contextlib.ExitStack() as stack:
        if ledger is not None:
            stack.callback(ledger.close)
        rep = Reporter(a.quiet, a.json)
        stack.enter_context(rep)
        already_done: int | None = 0 if ledger is not None else None  # None: no ledger
        for job in jobs:
            if job.error:
                rep.done(Outcome(job.src, None, False, job.error))
                continue
            assert job.dst is not None
            key = _key(job.dst, out) if ledger is not None else None
            use = analyzer
            if ledger is not None and key is not None:
                try:
                    in_sha = sha256_file(job.src)
                    out_sha = sha256_file(job.dst) if job.dst.is_file() else None
                except OSError as err:
                    rep.done(Outcome(job.src, job.dst, False, error_line(err, job.src)))
                    continue
                entry = ledger.get(key)
                decision = decide(entry, in_sha, shash, out_sha)
                if decision.skip:
                    already_done = (already_done or 0) + 1
                    continue
                if entry is not None and entry.status == "running":  # a run was killed
                    for tmp in stale_temporaries(job.dst):
                        tmp.unlink(missing_ok=True)
                if decision.overwrite and not options.overwrite:
                    if replacing is None:
                        replacing = Analyzer(replace(options, overwrite=True),
                                             detectors=analyzer.detectors)
                    use = replacing
                ledger.start(key, in_sha, shash, key)
            t0 = time.monotonic()
            outcome = _one(job.src, job.dst, a.save_plan, audit, use, rep)
            if ledger is not None and key is not None:
                seconds = time.monotonic() - t0
                if outcome.ok:
                    ledger.done(key, sha256_file(job.dst), seconds)
                else:
                    # Written but not audited: failed, yet the output is provably ours.
                    written = job.dst.is_file() and outcome.details.get("frames") is not None
                    ledger.failed(key, str(outcome.error), seconds,
                                  sha256_file(job.dst) if written else None)
            rep.done(outcome)
        extra = {} if already_done is None else {"already_done": already_done}
        notes = ([f"{already_done} already done (unchanged since the last run)"]
                 if already_done else [])
        return rep.finish(skipped, extra=extra, notes=notes)


def _key(dst: Path, out: Path | None) -> str | None:
    """An item's ledger key: its output's path in the folder (its input's, in its root)."""
    try:
        return dst.relative_to(out).as_posix() if out is not None else None
    except ValueError:
        return None


def _one(src: Path, dst: Path, save_plan: bool, audit: AuditLog | None, analyzer: Analyzer,
         rep: Reporter) -> Outcome:
    plan_path = dst.with_name(dst.name + ".plan.json") if save_plan or audit else None
    try:
        r = anonymize_file(src, dst, plan_path=plan_path, progress=rep.item(src.name),
                           analyzer=analyzer)
    except FacelessError as err:
        return Outcome(src, dst, False, error_line(err, src))
    n = sum(r.regions.values())
    outcome = Outcome(src, dst, True, details={
        "media": r.media, "frames": r.frames, "regions": r.regions,
        "seconds": round(r.seconds, 3), "warnings": list(r.warnings),
        "summary": f"({r.frames} frame(s), {n} region(s) hidden, {r.seconds:.1f}s)"})
    if audit is not None and plan_path is not None:
        try:
            plan = Plan.load(plan_path)
            audit.append("run", inputs=[src], plans=[plan_path], outputs=[dst],
                         settings=plan.settings, models=plan.models,
                         details={"media": r.media, "frames": r.frames, "regions": r.regions})
        except FacelessError as err:
            outcome = audit_failed(outcome, err)
    return outcome
