#!/usr/bin/env bash
# The LibTorch 2.x leg of CI: PyPI's torch 2.15.0 in .venv (tools/python_env.sh --torch; a CUDA build
# whose CPU ops run on any machine), tervit built against its LibTorch in build-torch2/ (the CUDA-only
# sources, NCCL's process group among them, compiled and linked), then the whole ctest on the CPU.
# Debian's LibTorch 1.13 stays the default of tools/build.sh and tools/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/python_env.sh --torch
TERVIT_TORCH_PREFIX=$(.venv/bin/python -c 'import torch.utils; print(torch.utils.cmake_prefix_path)') \
  bash tools/build.sh build-torch2
ctest --test-dir build-torch2 --output-on-failure --parallel "$(nproc)" "$@"
