"""Heads and persons: head coverage, person recall, false regions and cost, beside today's faces.

    python bench/persons.py                          # everything (needs ../shared/data)
    python bench/persons.py --only girl,mot          # some: girl, mot, clips, false, cost
    python bench/persons.py --markdown out.md

- girl: OTB "Girl" (a head that turns away, exact per-frame head boxes) encoded as a video and
  run through each tool's command line; a frame counts when >= 70% of its head box changed in
  the output (bench/temporal.py's pixel rule), every tool filling in magenta in its own mask
  shape. Tools: faceless today (faces), with heads, and deface.
- mot: the person detector on the MOT17 mini frames, recall at IoU >= 0.5 (one-to-one) of the
  pedestrians MOT counts (consider flag 1, class 1).
- clips: person recall (IoU >= 0.5) on generated 1280x720 clips of the shipped portrait
  (head and shoulders, 96 to 384 px) moving over a generated scene: the detector on every
  frame, and the plan of `faceless detect --hide person`.
- false: regions per frame on generated 1280x720 scenes without people (textures, shapes,
  gradients, noise), for the face, head and person detectors.
- cost: seconds per frame of `faceless detect` on a 30-frame 720p and 1080p pan over a MOT17
  street photo, today's default (face, plate) and with heads; deface (faces) beside it.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from faceless.core.geometry import iou_matrix
from faceless.detect.faces import CenterFaceDetector
from faceless.detect.heads import HeadDetector
from faceless.detect.persons import PersonDetector, PersonOptions

sys.path.insert(0, str(Path(__file__).resolve().parent))
from temporal import (
    VIDEOS,
    background,
    girl_data,
    parse_tool,
    run_tool,
    score_pixels,
    write_video,
)

MOT = VIDEOS / "mot17-mini" / "MOT17-mini" / "train"
# A magenta fill, which no pixel of a head is near, so that every hidden pixel counts as
# changed (a blur or a black fill leaves dark hair and smooth skin almost as they were).
FILL = "--operator fill --color 255,0,255"
GIRL_TOOLS = (f"faceless --hide face {FILL}", f"faceless --hide face,head {FILL}",
              f"faceless --hide head {FILL}", f"faceless --hide face,head --text-every 1 {FILL}",
              "deface --replacewith img --replaceimg {magenta}")
COST_TOOLS = ("faceless --hide face,plate", "faceless --hide face,plate,head",
              "faceless --hide face,plate,person", "deface")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs"


# --------------------------------------------------------------------------- girl


def girl(tools: tuple[str, ...], work: Path) -> list[str]:
    frames, gt = girl_data()
    clip = work / "girl.mp4"
    write_video(clip, frames)
    rows = ["| tool | frames with >= 70% of the head hidden | of them back-of-head frames "
            "| share of the frame changed | wall s |", "|---|---|---|---|---|"]
    for text in tools:
        # temporal's tool runs `faceless run ... --hide face` and then these arguments: the
        # last --hide wins.
        tool = parse_tool(text)
        out = work / f"girl-{len(rows)}.mp4"
        took = run_tool(tool, clip, out)
        s = score_pixels(gt, clip, out, "girl")
        back = [b for b in gt["boxes"] if b["back_of_head"]]
        leaked_back = sum(1 for lk in s.leaks if lk.get("frame") in
                          {b["frame"] for b in back})
        hidden = s.face_frames - s.leaked
        rows.append(f"| `{text}` | {hidden}/{s.face_frames} ({hidden / s.face_frames:.1%}) "
                    f"| {len(back) - leaked_back}/{len(back)} | {s.over_redaction:.1%} "
                    f"| {took:.1f} |")
    return rows


# --------------------------------------------------------------------------- mot


def mot_truth(seq: Path) -> dict[int, np.ndarray]:
    rows = np.loadtxt(seq / "gt" / "gt.txt", delimiter=",").reshape(-1, 9)
    out: dict[int, list[list[float]]] = {}
    for r in rows:
        if r[6] == 1 and r[7] == 1:
            x, y = r[2] - 1, r[3] - 1  # MOT boxes are 1-based
            out.setdefault(int(r[0]), []).append([x, y, x + r[4], y + r[5]])
    return {k: np.array(v) for k, v in out.items()}


def matched(truth: np.ndarray, found: np.ndarray, iou: float = 0.5) -> int:
    """Ground-truth boxes matched one-to-one (greedy by IoU) at IoU >= `iou`."""
    if not len(truth) or not len(found):
        return 0
    m = iou_matrix(truth, found)
    hits = 0
    while True:
        i, j = np.unravel_index(int(np.argmax(m)), m.shape)
        if m[i, j] < iou:
            return hits
        hits += 1
        m[i, :] = -1
        m[:, j] = -1


def mot(variants: dict[str, PersonOptions]) -> list[str]:
    rows = ["| person search | recall (IoU >= 0.5) | boxes per frame | s per frame |",
            "|---|---|---|---|"]
    for name, opts in variants.items():
        det = PersonDetector(opts)
        det.setup()
        hit = total = boxes = n = 0
        took = 0.0
        for seq in sorted(MOT.iterdir()):
            truth = mot_truth(seq)
            for p in sorted((seq / "img1").glob("*.jpg")):
                img = cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
                t0 = time.perf_counter()
                found = det.detect(img)
                took += time.perf_counter() - t0
                t = truth.get(int(p.stem), np.zeros((0, 4)))
                hit += matched(t, found.xyxy)
                total += len(t)
                boxes += len(found)
                n += 1
        rows.append(f"| {name} | {hit}/{total} ({hit / total:.1%}) | {boxes / n:.1f} "
                    f"| {took / n:.2f} |")
    return rows


# --------------------------------------------------------------------------- generated clips

PERSON_512 = (18.0, 14.0, 365.0, 512.0)  # the astronaut in the shipped 512x512 portrait, by eye


def person_clip(side: int, frames: int, seed: int, speed: float = 8.0
                ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A generated scene with the shipped portrait (head and shoulders, `side` px) walking
    across it at `speed` px a frame (4 m/s at 1 px a cm seen side-on at 30 fps would be 13);
    frames and each frame's person box."""
    from faceless.samples import astronaut_path

    portrait = cv2.resize(cv2.cvtColor(cv2.imread(str(astronaut_path())), cv2.COLOR_BGR2RGB),
                          (side, side), interpolation=cv2.INTER_AREA)
    bg = scenes(1, seed=seed)[0]
    h, w = bg.shape[:2]
    out, boxes = [], []
    k = side / 512
    if 0.1 * (w - side) + speed * (frames - 1) > w - side:
        raise ValueError(f"a {side}-px person at {speed} px a frame leaves the frame")
    for t in range(frames):
        x = round(0.1 * (w - side) + speed * t)
        y = (h - side) // 2 + round(20 * np.sin(t / 4))
        f = bg.copy()
        f[y:y + side, x:x + side] = portrait
        out.append(f)
        x1, y1, x2, y2 = PERSON_512
        boxes.append(np.array([[x + x1 * k, y + y1 * k, x + x2 * k, y + y2 * k]]))
    return out, boxes


def covered(truth: np.ndarray, boxes: np.ndarray, width: int, height: int) -> bool:
    """Whether >= 70% of the truth box lies inside the union of `boxes`."""
    mask = np.zeros((height, width), bool)
    for x1, y1, x2, y2 in np.asarray(boxes).reshape(-1, 4).round().astype(int):
        mask[max(y1, 0):y2, max(x1, 0):x2] = True
    x1, y1, x2, y2 = truth.reshape(4).round().astype(int)
    part = mask[max(y1, 0):y2, max(x1, 0):x2]
    return bool(part.size and part.mean() >= 0.7)


def clips(work: Path, frames: int = 30) -> list[str]:
    """Person recall on generated clips: the detector on every frame, and the plans of
    `faceless detect --hide person` (persons searched every 6th frame, tracked between; and
    every frame)."""
    from faceless.plan.model import Plan

    det = PersonDetector()
    rows = ["| person side (px) | px a frame | detector on every frame: IoU >= 0.5 | plan, search "
            "every 6th: IoU >= 0.5 / box >= 70% covered | plan, search every frame: IoU >= 0.5 "
            "/ covered |", "|---|---|---|---|---|"]
    # A walking pace, then fast: a quarter and a sixth of the person's width a frame.
    for i, (side, speed) in enumerate(((96, 8.0), (192, 8.0), (384, 8.0), (96, 24.0),
                                       (192, 32.0))):
        imgs, truth = person_clip(side, frames, seed=i, speed=speed)
        h, w = imgs[0].shape[:2]
        each = sum(matched(t, det.detect(f).xyxy) for f, t in zip(imgs, truth, strict=True))
        video = work / f"clip-{side}-{speed:.0f}.mp4"
        write_video(video, imgs)
        cells = []
        for every in ("6", "1"):
            plan_path = work / f"clip-{side}-{every}.plan.json"
            subprocess.run([str(Path(sys.executable).parent / "faceless"), "detect", str(video),
                            "-o", str(plan_path), "-q", "--overwrite", "--hide", "person",
                            "--text-every", every], check=True, stdout=subprocess.DEVNULL)
            plan = Plan.load(plan_path)
            regions = {f.index: np.array([r.box for r in f.regions]).reshape(-1, 4)
                       for f in plan.frames}
            iou = sum(matched(truth[t], regions.get(t, np.zeros((0, 4)))) for t in range(frames))
            cov = sum(covered(truth[t], regions.get(t, np.zeros((0, 4))), w, h)
                      for t in range(frames))
            cells.append(f"{iou}/{frames} / {cov}/{frames}")
        rows.append(f"| {side} | {speed:.0f} | {each}/{frames} | {' | '.join(cells)} |")
    return rows


# --------------------------------------------------------------------------- false regions


def scenes(n: int, size: tuple[int, int] = (1280, 720), seed: int = 0) -> list[np.ndarray]:
    """Generated frames without people: gradients, noise, textures, shapes and lines."""
    rng = np.random.default_rng(seed)
    w, h = size
    out = []
    for i in range(n):
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        base = np.stack([(xx / w * rng.uniform(50, 255) + yy / h * rng.uniform(0, 120))
                         for _ in range(3)], 2) % 255
        img = base.astype(np.uint8)
        if i % 3 == 1:  # coarse noise texture
            noise = rng.integers(0, 255, (h // 16, w // 16, 3), dtype=np.uint8)
            img = cv2.addWeighted(img, 0.5, cv2.resize(noise, size), 0.5, 0)
        for _ in range(int(rng.integers(5, 30))):
            colour = tuple(int(c) for c in rng.integers(0, 255, 3))
            x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
            r = int(rng.integers(10, 200))
            kind = rng.integers(0, 3)
            if kind == 0:
                cv2.rectangle(img, (x, y), (x + r, y + int(rng.integers(10, 300))), colour, -1)
            elif kind == 1:
                cv2.circle(img, (x, y), r // 2, colour, -1)
            else:
                cv2.line(img, (x, y), (int(rng.integers(0, w)), int(rng.integers(0, h))),
                         colour, int(rng.integers(1, 12)))
        out.append(cv2.GaussianBlur(img, (3, 3), 0))
    return out


def false_regions(n: int) -> list[str]:
    frames = scenes(n)
    persons = PersonDetector()
    dets = {"face (today)": CenterFaceDetector(), "head": HeadDetector(persons=persons),
            "person": persons}
    rows = ["| detector | regions per frame | frames with any |", "|---|---|---|"]
    for name, det in dets.items():
        counts = [len(det.detect(f)) for f in frames]
        rows.append(f"| {name} | {np.mean(counts):.2f} | {sum(c > 0 for c in counts)}/{n} |")
    return rows


# --------------------------------------------------------------------------- cost


def cost(tools: tuple[str, ...], work: Path, frames: int = 30) -> list[str]:
    rows = ["| tool | 720p s per frame | 1080p s per frame |", "|---|---|---|"]
    clips = {}
    for name, size in (("720p", (1280, 720)), ("1080p", (1920, 1080))):
        clips[name] = work / f"pan-{name}.mp4"
        write_video(clips[name], background("plaza", frames, size))
    for text in tools:
        tool = parse_tool(text)
        cells = []
        for name, clip in clips.items():
            if tool.argv[0] == "faceless":
                cmd = [str(Path(sys.executable).parent / "faceless"), "detect", str(clip),
                       "-o", str(work / f"{name}.plan.json"), "-q", "--overwrite",
                       *tool.argv[1:]]
                t0 = time.monotonic()
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
                took = time.monotonic() - t0
            else:
                took = run_tool(tool, clip, work / f"cost-{name}.mp4")
            cells.append(f"{took / frames:.3f}")
        rows.append(f"| `{text}` | {' | '.join(cells)} |")
    return rows


@dataclass(frozen=True)
class Section:
    name: str
    rows: list[str]


def done(section: Section) -> Section:
    """Print a section as soon as it is measured (a later one may take long or fail)."""
    print(f"### {section.name}\n\n" + "\n".join(section.rows) + "\n", file=sys.stderr,
          flush=True)
    return section


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="girl,mot,clips,false,cost")
    ap.add_argument("--scenes", type=int, default=20, help="generated scenes for `false`")
    ap.add_argument("--markdown", type=Path)
    a = ap.parse_args(argv)
    only = set(a.only.split(","))
    out: list[Section] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "girl" in only:
            out.append(done(Section("Head coverage, OTB Girl (500 frames, 128x96)",
                                    girl(GIRL_TOOLS, work))))
        if "mot" in only:
            out.append(done(Section("Person recall, MOT17 mini (12 frames, 1920x1080)", mot({
                "one whole-frame pass": PersonOptions(tile=0),
                "whole + 640 px tiles (default)": PersonOptions(),
                "whole + 640 px tiles, threshold 0.3": PersonOptions(threshold=0.3),
                "whole + 832 px tiles": PersonOptions(tile=832)}))))
        if "clips" in only:
            out.append(done(Section("Person recall, generated clips (1280x720, 30 frames)",
                                    clips(work))))
        if "false" in only:
            out.append(done(Section(f"False regions, {a.scenes} generated scenes without "
                                    "people (1280x720)", false_regions(a.scenes))))
        if "cost" in only:
            out.append(done(Section("Cost, `faceless detect` / deface on a 30-frame pan",
                                    cost(COST_TOOLS, work))))
    text = "\n".join(f"### {s.name}\n\n" + "\n".join(s.rows) + "\n" for s in out)
    text += f"\nMachine: {machine()}.\n"
    print(text, flush=True)
    if a.markdown:
        a.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
