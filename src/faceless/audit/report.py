"""The audit report of a log: exemptions.csv, custody.csv and a printable report.html."""

from __future__ import annotations

import csv
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faceless.audit.tracks import TrackRow, track_rows
from faceless.audit.verify import Verification, resolve
from faceless.core.errors import PlanError
from faceless.plan.model import Plan

EXEMPTION_COLUMNS = ("release", "source_sha256", "release_sha256", "kind", "track",
                     "first_s", "last_s", "decision", "reason", "detected", "tracked", "manual")
CUSTODY_COLUMNS = ("seq", "time", "actor", "event", "tool", "files")


@dataclass
class Release:
    """An output the log records with the plan that made it, and the leak check of it."""

    path: str
    sha256: str
    record: dict[str, Any]
    source: dict[str, str] | None
    plan_path: str | None
    rows: list[TrackRow] = field(default_factory=list)
    plan_error: str | None = None
    check: dict[str, Any] | None = None  # details of the latest `check` event naming it


def _role(rec: dict[str, Any], role: str) -> list[dict[str, str]]:
    return [f for f in rec["files"] if f["role"] == role]


def releases(v: Verification) -> list[Release]:
    """Every output of a verified event, with its plan's tracks and its leak check."""
    checks: dict[str, dict[str, Any]] = {}
    out: list[Release] = []
    for _, rec in v.records:
        if rec["event"] == "check" and isinstance(rec["details"], dict):
            for f in rec["files"]:  # a check names the release it scanned, in any role
                checks[f["sha256"]] = rec["details"]
            continue
        plans, sources = _role(rec, "plan"), _role(rec, "input")
        for f in _role(rec, "output"):
            r = Release(f["path"], f["sha256"], rec, sources[0] if sources else None,
                        plans[0]["path"] if plans else None)
            if r.plan_path is None:
                r.plan_error = "no plan recorded with this output"
            else:
                try:
                    r.rows = track_rows(Plan.load(resolve(v.path, r.plan_path)))
                except PlanError as err:
                    r.plan_error = str(err)
            out.append(r)
    for r in out:
        r.check = checks.get(r.sha256)
    return out


def _cell(value: object) -> object:
    # A spreadsheet runs a cell that starts with = + - @ as a formula; paths come from users.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def _write_csv(path: Path, header: tuple[str, ...], rows: list[list[object]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows([[_cell(c) for c in row] for row in rows])


def _files_text(rec: dict[str, Any]) -> str:
    return "; ".join(f"{f['role']}:{f['path']}:{f['sha256'][:12]}" for f in rec["files"])


def _check_text(check: dict[str, Any] | None) -> str:
    if check is None:
        return "no leak check recorded for this release"
    suspects = check.get("suspects")
    n = len(suspects) if isinstance(suspects, list) else suspects
    verdict = "passed" if check.get("ok") else "FAILED"
    return f"{verdict}; suspects: {n if n is not None else 'not recorded'}"


_CSS = """
body { font: 10pt sans-serif; margin: 1.5em; }
section { break-after: page; page-break-after: always; }
table { border-collapse: collapse; margin: .5em 0; }
td, th { border: 1px solid #999; padding: 2px 6px; text-align: left; vertical-align: top; }
.hash { font-family: monospace; font-size: 8pt; word-break: break-all; }
.bad { color: #b00; font-weight: bold; }
"""


def _release_html(r: Release) -> str:
    e = html.escape
    rec = r.record
    facts = [("release", e(r.path)), ("release sha256", f'<span class="hash">{e(r.sha256)}</span>'),
             ("source", e(r.source["path"]) if r.source else "not recorded"),
             ("source sha256", f'<span class="hash">{e(r.source["sha256"])}</span>'
              if r.source else ""),
             ("plan", e(r.plan_path or "not recorded")),
             ("made by", f"{e(str(rec['actor']))} with {e(str(rec['tool']))}, "
                         f"event {e(str(rec['event']))} (seq {e(str(rec['seq']))})"),
             ("when", e(str(rec["time"]))),
             ("leak check", e(_check_text(r.check)))]
    totals = {k: sum(row.origins.get(k, 0) for row in r.rows)
              for k in ("detected", "tracked", "manual")}
    facts.append(("regions", f"{totals['detected']} detected, {totals['tracked']} added by "
                             f"tracking, {totals['manual']} added by hand"))
    parts = [f"<section><h2>{e(r.path)}</h2><table>"]
    parts += [f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts]
    parts.append("</table>")
    if r.plan_error:
        parts.append(f'<p class="bad">plan: {e(r.plan_error)}</p>')
    else:
        parts.append("<table><tr><th>kind</th><th>track</th><th>from (s)</th><th>to (s)</th>"
                     "<th>decision</th><th>reason</th><th>detected</th><th>tracked</th>"
                     "<th>manual</th></tr>")
        for row in r.rows:
            cells = (row.kind, "" if row.track is None else row.track, f"{row.first:.3f}",
                     f"{row.last:.3f}", row.decision, row.reason, row.origins["detected"],
                     row.origins["tracked"], row.origins["manual"])
            parts.append("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in cells) + "</tr>")
        parts.append("</table>")
        if not r.rows:
            parts.append("<p>Nothing was found to hide.</p>")
    parts.append("</section>")
    return "\n".join(parts)


def _html(v: Verification, rels: list[Release]) -> str:
    e = html.escape
    status = ("verified: the chain is intact and every file present matches" if v.ok
              else "DOES NOT VERIFY: " + "; ".join(v.errors))
    head = [f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>faceless audit report "
            f"{e(str(v.path))}</title><style>{_CSS}</style></head><body>",
            f"<h1>Audit report of {e(str(v.path))}</h1>",
            f'<p class="{"" if v.ok else "bad"}">{e(status)}</p>',
            f'<p>{len(v.records)} event(s); head hash <span class="hash">{e(v.head or "")}'
            f"</span>; {len(rels)} release(s).</p>"]
    head += [f'<p>signed by key <span class="hash">{e(s.fingerprint)}</span> ({e(s.actor)}, '
             f"{e(s.time)}) up to line {s.line}</p>" for s in v.signatures]
    head += [f"<p>warning: {e(w)}</p>" for w in v.warnings]
    body = [_release_html(r) for r in rels]
    return "\n".join(head + body + ["</body></html>\n"])


def write_report(v: Verification, out: Path) -> list[Path]:
    """Write the three report files into `out` (created if needed); returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    rels = releases(v)
    exemptions: list[list[object]] = []
    for r in rels:
        src = r.source["sha256"] if r.source else ""
        for row in r.rows:
            exemptions.append([r.path, src, r.sha256, row.kind,
                               "" if row.track is None else row.track, row.first, row.last,
                               row.decision, row.reason, row.origins["detected"],
                               row.origins["tracked"], row.origins["manual"]])
    custody: list[list[object]] = [
        [rec["seq"], rec["time"], rec["actor"], rec["event"], rec["tool"], _files_text(rec)]
        for _, rec in v.records]
    paths = [out / "exemptions.csv", out / "custody.csv", out / "report.html"]
    _write_csv(paths[0], EXEMPTION_COLUMNS, exemptions)
    _write_csv(paths[1], CUSTODY_COLUMNS, custody)
    paths[2].write_text(_html(v, rels), encoding="utf-8")
    return paths
