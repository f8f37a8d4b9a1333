"""Face recall of faceless next to deface, judged by ../shared/tools/redaction_eval.py.

Both tools run as black boxes over the same lossless copies of each labelled set, and the
evaluator judges their output pixels alone (a face is hidden when >= 70% of its box changed).

    python bench/recall.py                       # every face set, faceless and deface
    python bench/recall.py --sets wider,dlib --tools faceless --markdown out.md
    python bench/recall.py --sets kaggle-mask --tools "faceless --mask-scale 1.6"  # any switches
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
EVAL = SHARED / "tools" / "redaction_eval.py"
DATA = SHARED / "data"

SETS = {  # name -> (evaluator dataset, folder)
    "wider-hard": ("wider", DATA / "faces" / "wider-val-sample"),
    "dlib": ("dlib", DATA / "faces" / "dlib-examples"),
    "kaggle-mask": ("kaggle", DATA / "faces" / "kaggle-face-mask"),
}


def _bin(name: str) -> str:
    """The tool from the same environment as this Python, else from PATH."""
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else (shutil.which(name) or name)


TOOLS = {  # name -> (command with {in} {out}, output pattern)
    "faceless": (f"{_bin('faceless')} run {{in}} -o {{out}} -q", "{out}/{stem}.png"),
    "faceless --thorough": (f"{_bin('faceless')} run {{in}} -o {{out}} -q --thorough",
                            "{out}/{stem}.png"),
    "faceless --scales 1,2": (f"{_bin('faceless')} run {{in}} -o {{out}} -q --scales 1,2",
                              "{out}/{stem}.png"),
    "deface": (f"{_bin('deface')} {{in}}/*.png", "{in}/{stem}_anonymized.png"),
}
BUCKETS = ["0-10", "10-20", "20-40", "40-80", "80-inf"]


def tool_command(tool: str) -> tuple[str, str]:
    """(command, output pattern) of a tool in TOOLS, or of 'faceless' with any switches."""
    if tool in TOOLS:
        return TOOLS[tool]
    if tool.startswith("faceless "):
        cmd, out = TOOLS["faceless"]
        return f"{cmd} {tool.partition(' ')[2]}", out
    raise SystemExit(f"unknown tool {tool!r}: one of {', '.join(TOOLS)}, or 'faceless ARGS'")


def evaluate(tool: str, dataset: str, folder: Path) -> dict:
    cmd, out = tool_command(tool)
    with tempfile.TemporaryDirectory() as tmp:
        js = Path(tmp) / "r.json"
        proc = subprocess.run([sys.executable, str(EVAL), dataset, str(folder), "--cmd", cmd,
                               "--out", out, "--json", str(js)], capture_output=True, text=True)
        if proc.returncode != 0 or not js.exists():
            raise RuntimeError(f"{tool} on {dataset} failed:\n{proc.stderr[-2000:]}")
        return json.loads(js.read_text())


def table(rows: list[tuple[str, str, dict]]) -> str:
    names = {"0-10": "<10 px", "10-20": "10–20 px", "20-40": "20–40 px", "40-80": "40–80 px",
             "80-inf": "≥80 px"}
    head = ("| set | tool | faces | recall | " + " | ".join(names[b] for b in BUCKETS)
            + " | over-redaction | s/image |")
    lines = [head, "|" + "---|" * (6 + len(BUCKETS))]
    for name, tool, r in rows:
        cells = []
        for b in BUCKETS:
            v = r["by_size"].get(b)
            cells.append(f"{v['recall']:.1%} ({v['n']})" if v else "–")
        lines.append(f"| {name} | {tool} | {r['faces']} | **{r['recall']:.1%}** | "
                     + " | ".join(cells)
                     + f" | {r['over_redaction']:.2%} | {r['seconds'] / r['images']:.2f} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default=",".join(SETS), help="comma-separated: " + ", ".join(SETS))
    ap.add_argument("--tools", default="faceless,deface",
                    help="comma-separated: " + ", ".join(TOOLS))
    ap.add_argument("--markdown", type=Path, help="also write the table to this file")
    a = ap.parse_args()
    if not EVAL.exists():
        print(f"needs {EVAL} (the shared folder beside the repository)", file=sys.stderr)
        return 2
    rows = []
    for name in a.sets.split(","):
        dataset, folder = SETS[name]
        for tool in a.tools.split(","):
            r = evaluate(tool, dataset, folder)
            rows.append((name, tool, r))
            print(f"{name:12s} {tool:22s} recall {r['recall']:.4f} "
                  f"over {r['over_redaction']:.4f} ({r['seconds']:.0f}s)", file=sys.stderr)
    text = table(rows)
    print(text)
    if a.markdown:
        a.markdown.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
