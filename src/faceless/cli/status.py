"""`faceless status`: what a folder run's ledger says is done, failed or unfinished."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from faceless.batch import Ledger, ledger_path
from faceless.batch.ledger import STATUSES, owner_alive
from faceless.cli.common import EXIT_FAILED, EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="summarise the ledger of a folder run",
                       description="Summarise what `faceless run INPUTS -o OUT` recorded in "
                                   "OUT/.faceless/ledger.sqlite: done, failed (with errors) "
                                   "and unfinished items, by media. Exit 0 when every "
                                   "recorded item is done, 1 otherwise.")
    p.add_argument("output", type=Path, help="the output folder of a run (or its ledger file)")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary")
    p.set_defaults(func=main)


def main(a: argparse.Namespace) -> int:
    path = a.output if a.output.is_file() else ledger_path(a.output)
    with Ledger(path, create=False) as ledger:
        entries = ledger.entries()
    counts = {s: sum(e.status == s for e in entries) for s in STATUSES}
    media: dict[str, dict[str, int]] = {}
    for e in entries:
        by = media.setdefault(e.media, {s: 0 for s in STATUSES})
        by[e.status] += 1
    failed = [e for e in entries if e.status == "failed"]
    unfinished = [e for e in entries if e.status == "running"]
    if a.json:
        doc = {"ledger": str(path), "total": len(entries), "done": counts["done"],
               "failed": counts["failed"], "unfinished": counts["running"], "media": media,
               "items": [{"input": e.input, "status": e.status, "media": e.media,
                          "output": e.output, "input_sha256": e.input_sha256,
                          "output_sha256": e.output_sha256, "settings_sha256":
                          e.settings_sha256, "error": e.error, "seconds": e.seconds,
                          "time": e.time, "owner": e.owner} for e in entries]}
        sys.stdout.write(json.dumps(doc, indent=1) + "\n")
    else:
        lines = [f"{path}: {len(entries)} item(s)"]
        for kind in sorted(media):
            c = media[kind]
            extra = f", {c['running']} unfinished" if c["running"] else ""
            lines.append(f"  {kind}: {c['done']} done, {c['failed']} failed{extra}")
        for e in failed:
            lines.append(f"failed: {e.input}: {e.error}")
        for e in unfinished:
            if e.owner and owner_alive(e.owner):
                pid = e.owner.rsplit(":", 2)[-2]
                lines.append(f"running: {e.input} (process {pid} is processing it now)")
            else:
                lines.append(f"unfinished: {e.input} (the run stopped; run it again to "
                             "finish)")
        extra = f", {counts['running']} unfinished" if counts["running"] else ""
        lines.append(f"{counts['done']} done, {counts['failed']} failed{extra}, "
                     f"{len(entries)} total")
        sys.stdout.write("\n".join(lines) + "\n")
    return EXIT_OK if counts["done"] == len(entries) else EXIT_FAILED
