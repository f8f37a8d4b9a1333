"""`faceless render`: apply a (possibly edited) plan to the media it was made for."""

from __future__ import annotations

import argparse
from pathlib import Path

from faceless.anonymize.operators import Operator, OperatorSpec, Shape
from faceless.api import render_plan
from faceless.cli.common import (
    Outcome,
    Reporter,
    _color,
    add_audit_options,
    add_common,
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
    p = sub.add_parser("render", help="apply plan files written by `faceless detect`",
                       description="Hide the regions a plan lists in the media it was made for.")
    p.add_argument("plans", nargs="+", type=Path, help="plan files (*.plan.json)")
    p.add_argument("--source", type=Path,
                   help="the media file, when it moved since the plan was written (must be "
                        "the same file: its sha256 is checked)")
    add_render_options(p, defaults=False, modes=False)
    add_audit_options(p)
    add_common(p)
    p.set_defaults(func=main)


def main(a: argparse.Namespace) -> int:
    options = build_options(a)
    audit = open_audit(a)
    operator = None
    if a.operator or a.shape:
        operator = OperatorSpec(Operator(a.operator or "blur"), Shape(a.shape or "ellipse"),
                                color=_color(a.color))
    several = len(a.plans) > 1
    with Reporter(a.quiet, a.json) as rep:
        for plan_path in a.plans:
            dst = None
            try:
                plan = Plan.load(plan_path)
                src = a.source or Path(plan.source.path)
                out = None if a.output is None else Path(a.output)
                if out is None:
                    dst = default_output(src)
                elif several or out.is_dir() or a.output.endswith(("/", "\\")):
                    dst = out / src.name
                else:
                    dst = out
                r = render_plan(plan, dst, source=src, options=options, operator=operator,
                                progress=rep.item(plan_path.name))
            except FacelessError as err:
                rep.done(Outcome(plan_path, dst, False, error_line(err, plan_path)))
                continue
            outcome = Outcome(plan_path, dst, True, details={
                "media": r.media, "frames": r.frames, "regions": r.regions,
                "summary": f"({r.frames} frame(s), {sum(r.regions.values())} region(s) hidden)"})
            if audit is not None:
                try:
                    # The operator actually used, when the command line overrides the plan's.
                    extra = {} if operator is None else {"operator": operator.to_dict()}
                    audit.append("render", inputs=[src], plans=[plan_path], outputs=[dst],
                                 settings=plan.settings, models=plan.models,
                                 details={"media": r.media, "frames": r.frames,
                                          "regions": r.regions, **extra})
                except FacelessError as err:
                    outcome = audit_failed(outcome, err)
            rep.done(outcome)
        return rep.finish([])
