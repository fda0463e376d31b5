#!/usr/bin/env bash
# The checkout's Python environment for the peers that tervit is measured against and the LibTorch 2.x
# build (never the product's path): a virtual environment in .venv (git-ignored) holding the pinned PyPI
# packages. Idempotent.
#   bash tools/python_env.sh            onnxruntime and openvino: the reference clients of the ONNX export's
#                                       tests (tests/onnx_client.py) and the peers of the benchmarks
#   bash tools/python_env.sh --torch    also torch 2.15.0 (its wheel carries a CUDA LibTorch 2.x: headers,
#                                       CMake package, libraries; some 5 GB with NVIDIA's) and timm 1.0.31:
#                                       tools/test_torch2.sh, the timm peers and references
#   bash tools/python_env.sh --libtorch only torch 2.15.0: the LibTorch that docker/Dockerfile builds against
set -euo pipefail
cd "$(dirname "$0")/.."
peers=(onnxruntime==1.31.1 openvino==2026.4.1)
torch=torch==2.15.0
case "${1:-}" in
  --torch) packages=("${peers[@]}" "$torch" timm==1.0.31) ;;
  --libtorch) packages=("$torch") ;;
  *) packages=("${peers[@]}") ;;
esac
[ -x .venv/bin/python ] || python3 -m venv .venv
missing=()
for p in "${packages[@]}"; do
  .venv/bin/python -m pip show "${p%%==*}" 2>/dev/null | grep -qx "Version: ${p##*==}" || missing+=("$p")
done
if ((${#missing[@]})); then .venv/bin/python -m pip install -q "${missing[@]}"; fi
echo "[python_env] .venv: ${packages[*]}"
