#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every test with ctest. The ONNX export's
# tests run the exports in ONNX Runtime and OpenVINO from the checkout's .venv (tools/python_env.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/build.sh
bash tools/python_env.sh
ctest --test-dir build --output-on-failure --parallel "$(nproc)" "$@"
