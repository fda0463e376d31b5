#!/usr/bin/env bash
# The demo, end to end on the embedded data set: exports Fashion-MNIST (Debian's dataset-fashion-mnist)
# as an ImageFolder of PNGs, trains a small DeiT in full precision, then 8-bit, then ternary
# (configs/demo_fashion_mnist.yaml), evaluates the best fp and ternary checkpoints on the 10,000 val
# images, and classifies one val image per class with the ternary model. Run again, it continues an
# interrupted run (--resume auto) and re-evaluates a finished one.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/build.sh
run=runs/demo_fashion_mnist
./build/tervit-data fashion-mnist --out data/fashion_mnist
start=$(date +%s)
./build/tervit-train --config configs/demo_fashion_mnist.yaml --output "$run" --resume auto
for stage in fp int8 ternary; do
  ./build/tervit-eval --checkpoint "$run/checkpoints/best-$stage" --data data/fashion_mnist/val --batch-size 256 --threads 2
done
echo "trained and evaluated in $(( $(date +%s) - start )) s"
images=()
# The first image of each class: a sorted glob, not `find | sort | head`, whose SIGPIPE pipefail turns
# into a failed script.
for class_dir in data/fashion_mnist/val/*/; do
  class_images=("$class_dir"*.png)
  images+=("${class_images[0]}")
done
./build/tervit-eval --checkpoint "$run/checkpoints/best-ternary" --class-names data/fashion_mnist/classes.txt --topk 1 \
  --threads 2 --images "${images[@]}" | cut -c1-160
if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  /usr/bin/python3 tools/plot_metrics.py "$run/metrics.jsonl" --out "$run/curves.png"
fi
