#!/bin/bash
# The GPU check, run on the GPU machine from the repository root once every part that
# tools/gpu/bundle.sh made is in /tmp/g: unpacks onnxruntime-gpu and the wheels into /tmp/site
# beside the image's CUDA libraries (as a user's venv holds them), then the provider tests,
# `bench/hotspots.py shapes` and `bench/speed.py` on the 720p and 1080p clips with faces from
# 20 px up. Results under $OUT.
#
#     cp .gpuN/part.* /tmp/g/ && bash tools/gpu/check.sh        # with the last part
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
SITE=/tmp/site; mkdir -p $SITE /tmp/g /tmp/w
cp -n .gpu[0-9]*/part.* .gpu1/bundle.md5 /tmp/g/ 2>/dev/null
echo "bundle md5 $(cat /tmp/g/part.* | md5sum | cut -d' ' -f1), expected $(cat /tmp/g/bundle.md5 2>/dev/null)"
cat /tmp/g/part.* | tar -x -C /tmp/w || { echo "bundle incomplete"; exit 3; }
xz -d -T0 < /tmp/w/ort.tar.xz | tar -x -C $SITE || { echo "untar failed"; exit 3; }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target $SITE \
    /tmp/w/*.whl || exit 4
PURE=$(python3 -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
ln -sfn "$PURE/nvidia" $SITE/nvidia
export PYTHONPATH=$SITE:$PWD/src
mkdir -p /tmp/bin
printf '#!/bin/sh\nexec python3 -m faceless "$@"\n' > /tmp/bin/faceless
chmod +x /tmp/bin/faceless
export PATH=/tmp/bin:$PATH
nvidia-smi -L; nproc
python3 -c "import onnxruntime as o; print('onnxruntime', o.__version__, o.get_available_providers())"
timeout 120 python3 -m pytest -q -p no:cacheprovider tests/test_providers.py 2>&1 | tail -4
python3 bench/hotspots.py shapes 2>&1 | tee "$OUT/shapes.md"
# --thorough takes seconds a frame: add it (THOROUGH=1) only when there is time to spare.
modes=('faceless --hide face' faceless 'faceless --fast')
[ -n "${THOROUGH:-}" ] && modes+=('faceless --thorough')
timeout "${SPEED_TIMEOUT:-400}" python3 bench/speed.py --frames 150 --repeat 2 --startup \
    --clips synthetic-720p-20px synthetic-1080p-20px --modes "${modes[@]}" \
    --markdown "$OUT/gpu-speed.md" 2>&1 | tee "$OUT/gpu-speed.log" | grep -v '^|'
nvidia-smi --query-gpu=name,memory.used,utilization.gpu --format=csv
