"""Throughput of `faceless run` on 1 worker, N workers and a local Ray cluster, next to deface
on the same files in the same run.

Each configuration runs as its own process on the same inputs: small photos (the first
--count images of kaggle-face-mask, about 400 px), larger photos (--large-count OpenALPR
photos, 1280 px and more) and video (--clips copies of the first --frames frames of a shared
clip: a video is one worker's, so workers share out whole clips). The configurations take
turns, round after round (--repeat), and the medians are reported:
images per second or frames per second, and CPU seconds per item of the process tree
(not known for Ray, whose workers are not children of the run). The Ray rows join a local
cluster started once before the runs (`ray start --head`), so they include connecting and
starting the actors but not starting the cluster. A plot of throughput against workers goes
to docs/img/scale.png.

    python bench/scale.py                          # everything
    python bench/scale.py --count 40 --repeat 1 --no-ray --no-video   # a quick look
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
PHOTOS = DATA / "faces" / "kaggle-face-mask" / "images"
LARGE = DATA / "plates" / "openalpr"
VIDEO = DATA / "videos" / "pets2009-vtest" / "vtest.mp4"
PLOT = ROOT / "docs" / "img" / "scale.png"


def _bin(name: str) -> str:
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else (shutil.which(name) or name)


@dataclass
class Config:
    """One way of running a tool over a set: its name, workers, and its command."""

    name: str
    tool: str  # faceless or deface
    workers: int  # 0: a Ray cluster
    args: list[str]


@dataclass
class Run:
    wall: float
    cpu: float
    ok: bool


def run_once(argv: list[str], log: Path) -> Run:
    """Run a command as a child process; its wall time and its process tree's CPU time."""
    with open(log, "ab") as lf:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=lf, stderr=lf, stdin=subprocess.DEVNULL)
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    return Run(wall, ru.ru_utime + ru.ru_stime, os.waitstatus_to_exitcode(status) == 0)


def pick_photos(folder: Path, count: int, into: Path) -> list[Path]:
    """Copies of the first `count` photos of `folder` (recursively, sorted), in `into`."""
    into.mkdir(parents=True, exist_ok=True)
    found = sorted(p for p in folder.rglob("*")
                   if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:count]
    out = []
    for i, p in enumerate(found):
        dst = into / f"{i:05d}{p.suffix.lower()}"
        shutil.copyfile(p, dst)
        out.append(dst)
    return out


def cut_video(src: Path, dst: Path, frames: int) -> Path:
    """The first `frames` frames of `src`, re-encoded losslessly enough (x264 CRF 12)."""
    import av

    dst.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        rate = vin.average_rate or 25
        vs = out.add_stream("libx264", rate=rate)
        vs.width, vs.height, vs.pix_fmt = vin.width, vin.height, "yuv420p"
        vs.options = {"crf": "12"}
        for i, frame in enumerate(inp.decode(vin)):
            if i == frames:
                break
            for pkt in vs.encode(frame.reformat(format="yuv420p")):
                out.mux(pkt)
        for pkt in vs.encode(None):
            out.mux(pkt)
    return dst


def commands(c: Config, inputs: list[Path], work: Path, ray: str | None) -> list[str]:
    """The command of one configuration over `inputs`, writing under `work` (emptied)."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    if c.tool == "deface":
        # deface writes NAME_anonymized.EXT beside each input: give it copies in `work`.
        copies = []
        for p in inputs:
            shutil.copyfile(p, work / p.name)
            copies.append(str(work / p.name))
        return [_bin("deface"), *copies, *c.args]
    extra = ["--ray", ray] if c.workers == 0 and ray else ["--workers", str(c.workers)]
    return [_bin("faceless"), "run", *map(str, inputs), "-o", str(work / "out") + "/", "-q",
            *extra, *c.args]


def configs(workers: list[int], ray: bool) -> list[Config]:
    """deface; faceless faces only (what deface hides) and default (faces and plates) on each
    worker count; faces only on the Ray cluster."""
    out = [Config("deface", "deface", 1, [])]
    for hide, args in (("faces", ["--hide", "face"]), ("default", [])):
        for n in workers:
            out.append(Config(f"faceless {hide} {n}w", "faceless", n, args))
        if ray and hide == "faces":
            out.append(Config(f"faceless {hide} ray", "faceless", 0, args))
    return out


def measure(label: str, items: int, inputs: list[Path], cs: list[Config], repeat: int,
            tmp: Path, ray: str | None) -> list[dict]:
    runs: dict[str, list[Run]] = {c.name: [] for c in cs}
    log = tmp / "runs.log"
    for r in range(repeat):
        for c in cs:  # alternate: every configuration once per round
            argv = commands(c, inputs, tmp / "work", ray)
            run = run_once(argv, log)
            runs[c.name].append(run)
            print(f"  {label} round {r + 1}: {c.name}: {run.wall:.1f}s"
                  f"{'' if run.ok else ' FAILED'}", file=sys.stderr, flush=True)
    rows = []
    for c in cs:
        ok = [x for x in runs[c.name] if x.ok]
        if not ok:
            rows.append({"set": label, "config": c, "rate": None, "cpu": None})
            continue
        wall = statistics.median(x.wall for x in ok)
        cpu = statistics.median(x.cpu for x in ok) / items
        rows.append({"set": label, "config": c, "rate": items / wall,
                     "cpu": None if c.workers == 0 else cpu, "runs": len(ok)})
    return rows


def table(rows: list[dict], unit: str) -> str:
    deface = {r["set"]: r["rate"] for r in rows if r["config"].tool == "deface"}
    lines = [f"| set | configuration | {unit} | vs deface | CPU s / item | runs |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        rate, base = r["rate"], deface.get(r["set"])
        vs = f"{rate / base:.2f}x" if rate and base else "-"
        cpu = f"{r['cpu']:.3f}" if r["cpu"] is not None else "-"
        lines.append(f"| {r['set']} | {r['config'].name} | "
                     f"{f'{rate:.2f}' if rate else 'failed'} | {vs} | {cpu} | "
                     f"{r.get('runs', 0)} |")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = sorted({r["set"] for r in rows}, key=[r["set"] for r in rows].index)
    fig, axes = plt.subplots(1, len(sets), figsize=(5 * len(sets), 4), squeeze=False)
    for ax, name in zip(axes[0], sets, strict=True):
        mine = [r for r in rows if r["set"] == name and r["rate"]]
        for hide in ("faces", "default"):
            pts = sorted((r["config"].workers, r["rate"]) for r in mine
                         if r["config"].tool == "faceless" and f" {hide} " in
                         f" {r['config'].name} " and r["config"].workers > 0)
            if pts:
                line = ax.plot(*zip(*pts, strict=True), marker="o",
                               label=f"faceless ({'faces only' if hide == 'faces' else hide})")
                ray = [r["rate"] for r in mine if r["config"].workers == 0
                       and f" {hide} " in f" {r['config'].name} "]
                if ray:
                    ax.plot([pts[-1][0]], ray, marker="*", markersize=12, linestyle="none",
                            color=line[0].get_color(), label="  on a local Ray cluster")
        for r in mine:
            if r["config"].tool == "deface":
                ax.axhline(r["rate"], color="grey", linestyle="--", label="deface")
        ax.set_title(name)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel("worker processes")
        ax.set_ylabel("frames/s" if "video" in name else "images/s")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=120, help="small photos (default %(default)s)")
    p.add_argument("--large-count", type=int, default=24,
                   help="larger photos, 0 for none (default %(default)s)")
    p.add_argument("--frames", type=int, default=150,
                   help="frames of each clip (default %(default)s)")
    p.add_argument("--clips", type=int, default=4,
                   help="video clips, copies of one cut (default %(default)s)")
    p.add_argument("--repeat", type=int, default=3, help="rounds (default %(default)s)")
    p.add_argument("--workers", default=None,
                   help="comma-separated worker counts (default 1 up to the cores)")
    p.add_argument("--no-ray", action="store_true", help="leave out the Ray cluster")
    p.add_argument("--no-video", action="store_true", help="leave out the video")
    p.add_argument("--plot", type=Path, default=PLOT, help="where the plot goes")
    a = p.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from speed import machine  # the sibling script: CPU, cores and versions in one line

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    workers = ([int(v) for v in a.workers.split(",")] if a.workers
               else list(range(1, cores + 1)))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{machine()}\nload average at start: {load:.1f} (a shared machine runs slower "
          "and noisier; the configurations alternate, so they share it alike)\n", flush=True)
    ray_address = None
    tmp = Path(tempfile.mkdtemp(prefix="faceless-scale-"))
    try:
        if not a.no_ray:
            ray_bin = _bin("ray")
            r = subprocess.run([ray_bin, "start", "--head", f"--num-cpus={cores}",
                                "--include-dashboard=false", "--disable-usage-stats"],
                               capture_output=True, text=True)
            if r.returncode == 0:
                ray_address = "auto"
            else:
                print(f"no Ray cluster ({r.stderr.strip()[-200:]}); Ray rows left out",
                      file=sys.stderr)
        cs = configs(workers, ray_address is not None)
        rows: list[dict] = []
        small = pick_photos(PHOTOS, a.count, tmp / "small")
        rows += measure(f"small photos ({len(small)})", len(small), small, cs, a.repeat, tmp,
                        ray_address)
        print(table(rows, "images/s or frames/s"), flush=True)  # kept if a later set fails
        if a.large_count:
            large = pick_photos(LARGE, a.large_count, tmp / "large")
            rows += measure(f"larger photos ({len(large)})", len(large), large, cs, a.repeat,
                            tmp, ray_address)
            print(table(rows, "images/s or frames/s"), flush=True)
        if not a.no_video and a.clips:
            # Several clips: a video is one worker's, so workers share out whole clips.
            first = cut_video(VIDEO, tmp / "clips" / "clip0.mp4", a.frames)
            clips = [first]
            for i in range(1, a.clips):
                clips.append(first.with_name(f"clip{i}.mp4"))
                shutil.copyfile(first, clips[-1])
            rows += measure(f"video ({a.clips} clips of {a.frames} frames)",
                            a.clips * a.frames, clips, cs, a.repeat, tmp, ray_address)
        print(table(rows, "images/s or frames/s"))
        plot(rows, a.plot, f"{machine().split(', Python')[0]}; load {load:.1f} at start")
        print(f"\nplot: {a.plot}")
    finally:
        if ray_address is not None:
            subprocess.run([_bin("ray"), "stop", "--force"], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
