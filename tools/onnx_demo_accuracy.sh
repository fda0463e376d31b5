#!/usr/bin/env bash
# The demo's ternary model (tools/demo.sh trains it) through every deployment path on the 10,000 val
# images: tervit-eval on its packed file in exact and int8 mode, tervit-run in int8 mode with float and
# int8 attention, and its ONNX exports in ONNX Runtime (qdq, dynamic) and OpenVINO (qdq). Prints one
# top-1 line per path.
set -euo pipefail
cd "$(dirname "$0")/.."
run=${1:-runs/demo_fashion_mnist}
bash tools/python_env.sh >/dev/null
mkdir -p out
build/tervit-export --checkpoint "$run/checkpoints/best-ternary" --out out/demo.packed >/dev/null 2>&1
for form in qdq dynamic; do
  build/tervit-export --packed out/demo.packed --format onnx --onnx-form "$form" --out "out/demo.$form.onnx" >/dev/null 2>&1
done
for mode in exact int8; do
  top1=$(build/tervit-eval --packed out/demo.packed --packed-mode "$mode" --data data/fashion_mnist/val --batch-size 256 --threads 2 2>/dev/null |
    python3 -c 'import json, sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])["top1"])')
  echo "{\"engine\": \"tervit-eval --packed-mode $mode\", \"top1\": $top1}"
done
# tervit-run (int8 mode) with float and with int8 attention, one JSON line per image, scored against the
# images' class folders (ImageFolder's sorted order, as training numbered them).
for attention in float int8; do
  top1=$(cd data/fashion_mnist/val && "$OLDPWD/build/tervit-run" --packed "$OLDPWD/out/demo.packed" --attention "$attention" --topk 1 \
    --threads 2 --images */*.png 2>/dev/null | python3 -c '
import json, os, sys
classes = sorted(os.listdir("."))
lines = [json.loads(line) for line in sys.stdin]
right = sum(line["topk"][0][0] == classes.index(line["image"].split("/")[0]) for line in lines)
print(f"{100 * right / len(lines):.2f}, \"images\": {len(lines)}")')
  echo "{\"engine\": \"tervit-run --mode int8 --attention $attention\", \"top1\": $top1}"
done
.venv/bin/python tools/onnx_top1.py --runtime onnxruntime --model out/demo.qdq.onnx
.venv/bin/python tools/onnx_top1.py --runtime onnxruntime --model out/demo.dynamic.onnx
.venv/bin/python tools/onnx_top1.py --runtime openvino --model out/demo.qdq.onnx
