#!/usr/bin/env bash
# make gpu-check: on one CUDA GPU with no network (bench/GPU.md). Installs the wheels that
# `make gpu-carry` put in .whl/ beside (not into) the image's Python, then runs every step.
# Usage: bash bench/gpu_check.sh OUT_DIR   (PYTHON defaults to python3)
set -euo pipefail
out="${1:?usage: bash bench/gpu_check.sh OUT_DIR}"
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
if compgen -G "$root/.whl/*.whl" >/dev/null; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$root/.gpu-site" "$root"/.whl/*.whl
fi
cd "$root"
PYTHONPATH="$root/.gpu-site:$root${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 \
    exec "$python" -m bench.gpu_check run --out "$out"
