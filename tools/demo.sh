#!/usr/bin/env bash
# The demo on the embedded data set: exports Fashion-MNIST (Debian's dataset-fashion-mnist) as an
# ImageFolder of PNGs, then classifies validation images with tervit-eval. Until the trainer lands the
# model is the timm-dumped deit_mini (random weights) from ../shared/fixtures: the predictions show
# the pipeline, not accuracy.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/build.sh
./build/tervit-data fashion-mnist --out data/fashion_mnist --limit 200
images=()
for class_dir in data/fashion_mnist/val/*/; do images+=("$(find "$class_dir" -name '*.png' | sort | head -n 1)"); done
./build/tervit-eval --weights ../shared/fixtures/timm/deit_mini.safetensors \
  --class-names data/fashion_mnist/classes.txt --topk 3 --threads 2 --images "${images[@]}"
