"""`faceless eval`: how much of what is labelled in a data set the current settings hide."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from faceless.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    add_common,
    add_detect_options,
    add_render_options,
    build_options,
)

FORMATS = ("wider", "voc", "dlib", "openalpr", "ccpd", "mot", "coco", "otb")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval", help="measure how much of a labelled data set gets hidden",
        description="Run the current settings over a labelled image set or frame sequence and "
                    "report, per kind of object, the share of labelled boxes the redaction mask "
                    "covers (overall and by size), over-redaction, false regions, WIDER FACE AP "
                    "and time. Sequences (mot, otb) also report leaked frames.")
    p.add_argument("data", type=Path, help="folder (or annotation file) of the labelled set")
    p.add_argument("--format", choices=FORMATS,
                   help="annotation format (default: guessed from the files)")
    p.add_argument("--subset", default="hard", choices=["easy", "medium", "hard"],
                   help="wider: which faces count for recall (default %(default)s)")
    p.add_argument("--labels", help="voc/coco: comma-separated object names to keep")
    p.add_argument("--kind", help="treat every labelled object as this kind (e.g. head)")
    p.add_argument("--cover", type=float, default=0.7,
                   help="share of a box's pixels that must be hidden (default %(default)s)")
    p.add_argument("--person-cover", type=float, default=0.01,
                   help="the same for a whole-person box (mot), where only the face is hidden "
                        "(default %(default)s)")
    p.add_argument("--sweep", default=None,
                   help="thresholds for the recall / over-redaction curve, comma-separated, or "
                        "'none' (default 0.02,0.05,0.1,0.15,0.2,0.3,...,0.9)")
    p.add_argument("--pixels", action="store_true",
                   help="also render and judge changed pixels (> 2 levels), as "
                        "redaction_eval.py does")
    p.add_argument("--limit", type=int, default=0, help="only the first N images or frames")
    p.add_argument("--plot", type=Path, metavar="PNG",
                   help="write recall by size and recall vs over-redaction (needs matplotlib)")
    p.add_argument("--misses", type=Path, metavar="PNG",
                   help="write a contact sheet of the largest missed objects")
    p.add_argument("--misses-max", type=int, default=48, help="tiles on that sheet "
                   "(default %(default)s)")
    add_detect_options(p, encodes=False)
    add_render_options(p)
    p.set_defaults(output=None)
    for action in p._actions:  # -o keeps its name but means something else here
        if "--output" in action.option_strings:
            action.help = "also write each anonymized image (PNG) into this folder"
    add_common(p)
    p.set_defaults(func=main)


def _thresholds(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    if text.strip().lower() in ("none", "off", ""):
        return ()
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as err:
        raise UsageError(f"--sweep: expected comma-separated numbers or 'none', got {text!r}"
                         ) from err


def main(a: argparse.Namespace) -> int:
    from faceless.eval import EvalConfig, evaluate, load, make_analyzer
    from faceless.eval.report import contact_sheet, plot

    options = build_options(a)
    if not a.data.exists():
        raise UsageError(f"{a.data}: no such data folder or file")
    sweep = _thresholds(a.sweep)
    cfg_kw: dict[str, Any] = {"cover": a.cover, "person_cover": a.person_cover,
                              "pixels": a.pixels, "misses": a.misses_max if a.misses else 0}
    if sweep is not None:
        cfg_kw["thresholds"] = sweep
    config = EvalConfig(**cfg_kw)
    labels = [s.strip() for s in a.labels.split(",")] if a.labels else None
    dataset = load(a.data, a.format, subset=a.subset, labels=labels, kind=a.kind)
    dataset = dataset.limited(a.limit)
    analyzer = make_analyzer(options, config, dataset)
    analyzer.setup()  # a missing or altered model stops here (exit 2)
    on_image = None
    if a.output is not None:
        on_image = _writer(Path(a.output), options)
    err = Console(stderr=True, highlight=False)
    show = not a.quiet and not a.json and err.is_terminal
    with Progress(TextColumn("eval"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True, disable=not show) as bar:
        task = bar.add_task("eval", total=len(dataset.samples))
        result = evaluate(dataset, options, config, analyzer=analyzer, on_image=on_image,
                          progress=lambda done, total: bar.update(task, completed=done))
    summary = result.summary()
    if a.plot:
        plot(summary, a.plot, title=f"faceless eval {dataset.format} {dataset.root.name}")
        summary["plot"] = str(a.plot)
    if a.misses:
        contact_sheet([(m.crop, m.caption) for m in result.misses], a.misses)
        summary["misses"] = str(a.misses)
    for path, reason in result.failures:
        err.print(f"[red]error[/red]: {escape(f'{path}: {reason}')}", markup=True, soft_wrap=True)
    if a.json:
        sys.stdout.write(json.dumps(summary, indent=1) + "\n")
    elif not a.quiet:
        print_summary(summary, Console(highlight=False))
    return EXIT_FAILED if result.failures else EXIT_OK


def _writer(folder: Path, options: Any) -> Any:
    from PIL import Image

    from faceless.anonymize import Redactor

    redactor = Redactor(options.specs())
    folder.mkdir(parents=True, exist_ok=True)

    def write(index: int, sample: Any, image: Any, regions: Any) -> None:
        name = f"{index:05d}_{sample.image.stem}.png"
        Image.fromarray(redactor.hide(image, regions)).save(folder / name)

    return write


def _pct(v: float | None, nd: int = 1) -> str:
    return "-" if v is None else f"{v * 100:.{nd}f}%"


def print_summary(s: dict[str, Any], console: Console) -> None:
    """The evaluation as rich tables."""
    ds, st = s["dataset"], s["settings"]
    console.print(f"[bold]faceless eval[/bold] {escape(str(ds['format']))} "
                  f"{escape(str(ds['root']))}: {ds['judged']} of "
                  f"{ds['images']} images judged, threshold {st['threshold']:g}, a box counts "
                  f"as hidden when >= {st['cover']:.0%} of it is masked"
                  + (f"; tracking {'on' if st['tracking'] else 'off'}" if ds["sequence"]
                     else ""), soft_wrap=True)
    kinds = s["kinds"]
    pixels = any("recall_pixels" in k for k in kinds.values())
    t = Table(title="redaction recall: share of labelled objects hidden", title_justify="left")
    t.add_column("size (short side)")
    for name, k in kinds.items():
        cover = f", cover {k['cover']:.0%}" if k["cover"] != st["cover"] else ""
        t.add_column(f"{name}s{cover}", justify="right")
        t.add_column("recall", justify="right")
        if pixels:
            t.add_column("by pixels", justify="right")
    buckets = list(next(iter(kinds.values()))["by_size"]) if kinds else []
    rows: list[list[str]] = [["all"]]
    for k in kinds.values():
        rows[0] += [str(k["objects"]), _pct(k["recall"])]
        if pixels:
            rows[0].append(_pct(k.get("recall_pixels")))
    for b in buckets:
        row = [f"{b} px"]
        for k in kinds.values():
            n = k["by_size"][b]["n"]
            row += [str(n), _pct(k["by_size"][b]["recall"]) if n else "-"]
            if pixels:
                px = k.get("by_size_pixels", {}).get(b, {}).get("recall")
                row.append(_pct(px) if n else "-")
        rows.append(row)
    for row in rows:
        t.add_row(*row)
    console.print(t)
    console.print("mean share of each box hidden: " + ", ".join(
        f"{n} {_pct(k['mean_coverage'])} (touched at all: {_pct(k['touched'])})"
        for n, k in kinds.items()), soft_wrap=True)
    fr = ", ".join(f"{k} {v:.2f}" for k, v in s["false_regions_per_image"].items()) or "0"
    rg = ", ".join(f"{k} {v:.2f}" for k, v in s["regions_per_image"].items()) or "0"
    line = (f"over-redaction {_pct(s['over_redaction'], 2)} of the pixels away from labels"
            + (f" ({_pct(s['over_redaction_pixels'], 2)} by changed pixels)"
               if "over_redaction_pixels" in s else "")
            + f"; regions per image: {rg}; false regions per image: {fr}")
    console.print(line, soft_wrap=True, markup=False)
    tm = s["time"]
    if tm["seconds_per_image"] is not None:
        console.print(f"time: {tm['seconds_per_image'] * 1000:.0f} ms per image, "
                      f"{tm['seconds_per_megapixel'] * 1000:.0f} ms per megapixel "
                      f"(detection at threshold {tm['detect_threshold']:g}; "
                      f"{tm['wall_seconds']:.1f}s in all)", soft_wrap=True)
    if "wider_ap" in s:
        ap = s["wider_ap"]
        console.print(f"WIDER FACE AP (IoU 0.5, scores >= {ap['min_score']:g}): easy "
                      f"{ap['easy']:.3f}, medium {ap['medium']:.3f}, hard {ap['hard']:.3f}",
                      soft_wrap=True)
    for name, k in kinds.items():
        lk = k.get("leaks")
        if not lk:
            continue
        lo = lk["longest"]
        where = (f" ({lo['sequence']} id {lo['track_id']} from frame {lo['first_frame']}"
                 + (f", {lo['seconds']:.2f}s" if lo["seconds"] else "") + ")") \
            if lo["frames"] else ""
        console.print(f"{name} frames leaked: {lk['leaked']} of {lk['object_frames']} "
                      f"({_pct(lk['leaked_share'])}), {lk['tracks_leaking']} of {lk['tracks']} "
                      f"tracks; longest leak {lo['frames']} frames{where}", soft_wrap=True)
    if s.get("sweep"):
        t = Table(title="across thresholds", title_justify="left")
        t.add_column("threshold", justify="right")
        for name in kinds:
            t.add_column(f"{name} recall", justify="right")
        t.add_column("over-redaction", justify="right")
        t.add_column("false / image", justify="right")
        for row in s["sweep"]:
            t.add_row(f"{row['threshold']:g}", *(_pct(row["recall"][n]) for n in kinds),
                      _pct(row["over_redaction"], 2), f"{row['false_regions_per_image']:.2f}")
        console.print(t)
    for key in ("plot", "misses"):
        if key in s:
            console.print(f"wrote {s[key]}")
