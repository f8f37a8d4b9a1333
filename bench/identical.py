"""Fingerprint faceless's outputs, to show that a change leaves every output byte the same.

Makes a fixed set of inputs (the shipped sample photo, a synthetic clip with a moving face
and a plate, and, where ../shared/data is present, real photos and short cuts of the real
videos), runs the `faceless` CLI over them in several modes (default, --fast, --thorough,
text, no tracking with other operators, detect then render), and records the sha256 of
every output and plan. Run it before a change with --save and after it with --compare:

    python bench/identical.py --save /tmp/before.json
    python bench/identical.py --compare /tmp/before.json     # exit 1 if any output differs

Plans are compared as JSON with the version string and run times removed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"

# (name, CLI arguments, inputs it runs on: "all" or a tuple of input names)
RUNS: list[tuple[str, list[str], object]] = [
    ("default", [], "all"),
    ("fast", ["--fast"], "all"),
    ("text", ["--hide", "face,plate,text"], "all"),
    ("notrack-pixelate-box", ["--no-track", "--operator", "pixelate", "--shape", "box"], "all"),
    ("fill-fp32", ["--operator", "fill", "--precision", "fp32", "--full-every", "3"], "all"),
    ("thorough", ["--thorough"], ("sample.jpg", "synthetic.mp4")),
]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_inputs(folder: Path, frames: int) -> list[Path]:
    """The inputs, written into `folder`."""
    import av
    import cv2
    import numpy as np
    from PIL import Image

    from faceless.samples import astronaut_path

    out = [folder / "sample.jpg"]
    shutil.copyfile(astronaut_path(), out[0])
    face = np.asarray(Image.open(astronaut_path()).convert("RGB"))
    rng = np.random.default_rng(7)
    base = rng.integers(40, 200, (360, 640, 3), dtype=np.uint8)
    clip = folder / "synthetic.mp4"
    with av.open(str(clip), "w") as c:
        s = c.add_stream("libx264", rate=Fraction(25))
        s.width, s.height, s.pix_fmt = 640, 360, "yuv420p"
        s.options = {"preset": "veryfast", "threads": "1"}
        for i in range(frames):
            img = base.copy()
            side = 60 + 2 * i
            x = 20 + 9 * i
            img[40:40 + side, x:x + side] = cv2.resize(face, (side, side))
            cv2.rectangle(img, (420, 260), (560, 300), (240, 240, 240), -1)
            cv2.putText(img, "KD 4471", (428, 292), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (10, 10, 10),
                        2)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    out.append(clip)
    if DATA.is_dir():
        for rel in ("videos/egoblur-demo/gen2/demo_assets/test_face_image.png",
                    "videos/egoblur-demo/gen2/demo_assets/test_lp_image.png",
                    "faces/kaggle-face-mask/images/maksssksksss10.jpg"):
            if (DATA / rel).exists():
                dst = folder / Path(rel).name
                shutil.copyfile(DATA / rel, dst)
                out.append(dst)
        for rel in ("videos/pets2009-vtest/vtest.mp4",
                    "videos/egoblur-demo/gen1/demo_assets/test_video.mp4"):
            if (DATA / rel).exists():
                out.append(cut(DATA / rel, folder / f"cut-{Path(rel).parent.name}.mp4", frames))
    return out


def cut(src: Path, dst: Path, frames: int) -> Path:
    """The first `frames` frames of `src`, re-encoded (deterministically) to `dst`."""
    import av

    with av.open(str(src)) as i, av.open(str(dst), "w") as o:
        vin = i.streams.video[0]
        s = o.add_stream("libx264", rate=vin.average_rate or Fraction(25))
        s.width, s.height, s.pix_fmt = vin.width, vin.height, "yuv420p"
        s.options = {"preset": "veryfast", "threads": "1"}
        for n, f in enumerate(i.decode(vin)):
            if n >= frames:
                break
            for p in s.encode(f.reformat(format="yuv420p")):
                o.mux(p)
        for p in s.encode():
            o.mux(p)
    return dst


def plan_digest(path: Path) -> str:
    doc = json.loads(path.read_text())
    doc.pop("created_by", None)
    doc.get("source", {}).pop("path", None)  # a temporary folder
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def fingerprint(work: Path, frames: int) -> dict[str, str]:
    inputs_dir = work / "in"
    inputs_dir.mkdir()
    inputs = make_inputs(inputs_dir, frames)
    names = {p.name: p for p in inputs}
    cli = [sys.executable, "-m", "faceless"]
    result: dict[str, str] = {}
    for run, args, which in RUNS:
        chosen = list(names) if which == "all" else [n for n in which if n in names]
        out = work / run
        out.mkdir()
        cmd = [*cli, "run", *[str(names[n]) for n in chosen], "-o", str(out), "-q",
               "--save-plan", *args]
        subprocess.run(cmd, check=True)
        for f in sorted(out.iterdir()):
            if not f.is_file():  # the job ledger's folder
                continue
            key = f"{run}/{f.name}"
            result[key] = plan_digest(f) if f.name.endswith(".json") else sha256(f)
            print(key, result[key][:16], flush=True)
    # detect, then render the plan: the two-step path
    for name in ("sample.jpg", "synthetic.mp4"):
        plan = work / f"{name}.plan.json"
        subprocess.run([*cli, "detect", str(names[name]), "-o", str(plan), "-q"], check=True)
        dst = work / f"rendered-{name}"
        subprocess.run([*cli, "render", str(plan), "-o", str(dst), "-q"], check=True)
        for f in (plan, dst):
            key = f"detect-render/{f.name}"
            result[key] = plan_digest(f) if f.name.endswith(".json") else sha256(f)
            print(key, result[key][:16], flush=True)
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--save", type=Path, help="write the fingerprints to this JSON file")
    g.add_argument("--compare", type=Path, help="compare with fingerprints saved earlier")
    ap.add_argument("--frames", type=int, default=24, help="frames of each clip (default 24)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        got = fingerprint(Path(tmp), a.frames)
    if a.save:
        a.save.write_text(json.dumps(got, indent=1, sort_keys=True))
        print(f"{len(got)} outputs fingerprinted into {a.save}")
        return 0
    want = json.loads(a.compare.read_text())
    differ = sorted(k for k in want.keys() | got.keys() if want.get(k) != got.get(k))
    for k in differ:
        print(f"DIFFERS {k}: {want.get(k, 'missing')[:16]} -> {got.get(k, 'missing')[:16]}")
    print(f"{len(want.keys() & got.keys()) - len(differ)} of {len(want)} outputs identical")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
