#!/usr/bin/env bash
# The one script for a lent GPU machine (run from the repository root):
#   1. installs what the machine lacks: wheels carried in .whl/ (offline machines), else `pip install -e .`;
#   2. runs the CUDA-marked tests;
#   3. prints frames/s of the ViT-B/16 diff model in bf16 on a 20,000-frame synthetic folder, decoding included;
#   4. on the machine's CPU: attention speed ratios and bf16 (AMX) against fp32;
#   5. with 2 or more GPUs: `diffclip predict` under torchrun, one process per GPU, against one process.
# Prepare the wheels here with:
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl timm==1.0.31 open_clip_torch==3.3.0 ftfy wcwidth
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
if ls .whl/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
else
  "$PY" -m pip install -q -e '.[test]'
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c "import torch, timm; print('torch', torch.__version__, 'timm', timm.__version__, 'cuda', torch.cuda.is_available())"
lscpu | grep -E 'Model name|^CPU\(s\)' || true
grep -o -w -E 'amx_tile|avx512_bf16' /proc/cpuinfo | sort | uniq -c || true

echo "== CUDA-marked tests"
"$PY" -m pytest -q -m cuda tests/test_cuda.py -p no:cacheprovider

echo "== GPU throughput (ViT-B/16, diff, bf16, 20,000 frames, decoding included)"
"$PY" benchmarks/gpu_throughput.py --frames "${FRAMES:-20000}"

echo "== CPU: attention speed and bf16 autocast (this machine's CPU)"
"$PY" benchmarks/attention_speed.py --backbones biomedclip --batches 32 --dtypes fp32 bf16 --repeats 3
"$PY" benchmarks/cpu_bf16.py

NGPU=$( (nvidia-smi -L 2>/dev/null || true) | wc -l)
if [ "${NGPU:-0}" -ge 2 ]; then
  echo "== Sharded predict: torchrun over the machine's $NGPU GPUs against one process (issue 33)"
  "$PY" benchmarks/sharded_predict.py --nproc "$NGPU" --videos $((2 * NGPU)) --frames 2500 --precision auto --repeats 2
else
  echo "== Sharded predict: skipped, $NGPU GPU(s) (needs 2 or more; on a CPU: python benchmarks/sharded_predict.py)"
fi
