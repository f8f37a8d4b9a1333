"""x264 presets on faceless's own writer path: CPU per frame, file size and picture quality.

Encodes the first --frames frames of a clip (default: bench/speed.py's synthetic 1080p clip,
made here; or a folder of JPEG/PNG frames) with each preset, as faceless's writer would (RGB
-> yuv420p -> libx264), and prints a markdown table. Quality is the luma PSNR of the decoded
output against the encoder's own input (the frames as yuv420p): presets compare fairly at
equal PSNR, not at equal CRF, so a preset may be given with its own CRF (PRESET@CRF) and its
own number of B-frames (PRESET/bN; without it, the preset's own: 3 from superfast to medium,
as faceless writes with an explicit --preset; its default and --fast write none, /b0). Each
row is encoded with the options faceless's writer would give x264 (`encoder_options`) and,
unless --only-faceless, also with x264 free to use its AVX-512 code.

    python bench/encode.py
    python bench/encode.py --clip footage.mp4 --presets medium,veryfast
    python bench/encode.py --presets veryfast,superfast,superfast@20 --repeat 3
    python bench/encode.py --clip frames/ --presets veryfast,veryfast/b0@19 --only-faceless
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from faceless.core.errors import ConfigError
from faceless.media.video import VideoOptions, encoder_options, iter_frames


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", type=Path)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--presets", default="medium,faster,veryfast")
    ap.add_argument("--crf", default="18")
    ap.add_argument("--repeat", type=int, default=1, help="runs per row; the least CPU is shown")
    ap.add_argument("--only-faceless", action="store_true",
                    help="only the row with x264's options as faceless sets them")
    a = ap.parse_args(argv)
    try:
        rows = [_spec(spec, a.crf) for spec in a.presets.split(",")]
    except ValueError as err:
        ap.error(str(err))
    with tempfile.TemporaryDirectory(prefix="faceless-encode-") as tmp:
        clip = a.clip
        if clip is None:
            sys.path.insert(0, str(Path(__file__).parent))
            import speed

            clip = speed.make_clip("synthetic-1080p", "1920x1080", a.frames, Path(tmp))
        images = _frames(clip, a.frames)
        h, w = images[0].shape[:2]
        # What the encoder receives (luma), converted once for every row's PSNR.
        lumas = [av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
                 .to_ndarray()[:h].astype(np.float32) for img in images]
        print(f"{len(images)} frames of {w}x{h}, CRF {a.crf} unless a row says otherwise\n")
        print("| preset | CRF | x264 | CPU ms / frame (best of runs) | size KiB | luma PSNR dB |\n"
              "|---|---|---|---|---|---|")
        for named, video in rows:
            crf = video.crf
            # faceless's writer keeps x264 off its AVX-512 code (media.video.x264_same_bytes);
            # the other row lets x264 use every feature of the CPU.
            ours = encoder_options("libx264", video)
            variants = {"all its CPU features": _without_asm(ours), "as faceless runs it": ours}
            if a.only_faceless:
                del variants["all its CPU features"]
            best: dict[str, float] = {}
            psnr: dict[str, float] = {}
            size: dict[str, int] = {}
            for _ in range(a.repeat):  # alternating, so drift on a shared machine hits both
                for name, opts in variants.items():
                    out_path = Path(tmp) / f"{video.preset}.mp4"
                    t = time.process_time()
                    with av.open(str(out_path), "w") as out:
                        s = out.add_stream("libx264", rate=30, options=opts)
                        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
                        for img in images:
                            out.mux(s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
                        out.mux(s.encode(None))
                    ms = (time.process_time() - t) / len(images) * 1000
                    best[name] = min(best.get(name, ms), ms)
                    size[name] = out_path.stat().st_size // 1024
                    if name not in psnr:  # the same bytes every run
                        psnr[name] = _psnr(out_path, lumas)
            for name, ms in best.items():
                print(f"| {named} | {crf} | {name} | {ms:.1f} | {size[name]} | "
                      f"{psnr[name]:.2f} |")
    return 0


_SPEC = re.compile(r"(?P<preset>[a-z]+)(?:/b(?P<b>\d+))?(?:@(?P<crf>\d+))?")


def _spec(spec: str, crf: str) -> tuple[str, VideoOptions]:
    """PRESET[/bN][@CRF] as (its name, the writer's options); ValueError names a bad one."""
    m = _SPEC.fullmatch(spec.strip())
    if m is None:
        raise ValueError(f"bad preset spec {spec!r}: write PRESET[/bN][@CRF], e.g. veryfast/b0@19")
    b = m["b"]
    try:  # bframes None: the preset's own
        return spec.strip(), VideoOptions(preset=m["preset"], crf=int(m["crf"] or crf),
                                          bframes=None if b is None else int(b))
    except ConfigError as err:
        raise ValueError(f"{spec!r}: {err}") from err


def _without_asm(opts: dict[str, str]) -> dict[str, str]:
    """`opts` with x264 free to use its AVX-512 code (no asm= in x264-params)."""
    params = [p for p in opts.get("x264-params", "").split(":") if p and not p.startswith("asm=")]
    out = {k: v for k, v in opts.items() if k != "x264-params"}
    if params:
        out["x264-params"] = ":".join(params)
    return out


def _frames(clip: Path, n: int) -> list[np.ndarray]:
    """The first `n` RGB frames of a video, or of a folder of JPEG/PNG frames (sorted by
    name), cut to even sides as yuv420p needs."""
    if clip.is_dir():
        from PIL import Image

        paths = sorted(p for p in clip.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        images = [np.asarray(Image.open(p).convert("RGB")) for p in paths[:n]]
    else:
        images = []
        for vf in iter_frames(clip):
            images.append(vf.image)
            if len(images) >= n:
                break
    if not images:
        raise SystemExit(f"{clip}: no frames")
    if len({img.shape for img in images}) > 1:
        raise SystemExit(f"{clip}: the frames differ in size; one clip's frames are needed")
    h, w = images[0].shape[:2]
    return [np.ascontiguousarray(img[: h // 2 * 2, : w // 2 * 2]) for img in images]


def _psnr(path: Path, lumas: list[np.ndarray]) -> float:
    """Luma PSNR of a decoded video against the encoder's input luma, frame by frame."""
    err, n = 0.0, 0
    with av.open(str(path)) as c:
        for frame, want in zip(c.decode(video=0), lumas, strict=True):
            y = frame.to_ndarray(format="yuv420p")[:frame.height].astype(np.float32)
            err += float(np.mean((y - want) ** 2))
            n += 1
    return 10 * np.log10(255.0 ** 2 / max(err / n, 1e-12))


if __name__ == "__main__":
    sys.exit(main())
