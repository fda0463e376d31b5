#!/usr/bin/env bash
# The demo's ablation: from the demo run's full-precision checkpoint (runs/demo_fashion_mnist/
# checkpoints/best-fp, made by tools/demo.sh), the same ternary training budget (5 epochs after fp)
# reached three ways, each evaluated on the 10,000 val images:
#   progressive channel-wise: int8 1 epoch, then ternary 4 (the demo's own stages, TerViT's recipe)
#   direct channel-wise:      ternary 5 epochs straight from fp
#   progressive layer-wise:   int8 1 epoch, then layer-wise ternary 4
# Prints a Markdown table of val top-1 (the demo run supplies the first row). Arguments are passed to
# tervit-train, e.g. `--set runtime.threads=1` on a machine that is busy with other work.
set -euo pipefail
cd "$(dirname "$0")/.."
demo=runs/demo_fashion_mnist
fp="$demo/checkpoints/best-fp"
extra_args=("$@")
[[ -d "$fp" ]] || { echo "run tools/demo.sh first: $fp is missing" >&2; exit 2; }
int8="{name: int8, epochs: 1, weight_quant: int8, lr: 2.0e-4, min_lr: 1.0e-6, init: $fp}"
ternary_lr="lr: 5.0e-4, warmup_epochs: 0.2, min_lr: 1.0e-6"
train() {  # run name, stage list
  ./build/tervit-train --config configs/demo_fashion_mnist.yaml --output "runs/ablation_$1" --resume auto \
    --set "stages=$2" --set logging.progress=lines "${extra_args[@]}" >/dev/null 2>"runs/ablation_$1.log"
}
top1() {  # checkpoint folder
  ./build/tervit-eval --checkpoint "$1" --data data/fashion_mnist/val --batch-size 256 --threads 2 2>/dev/null |
    /usr/bin/python3 -c 'import json, sys; print("%.2f" % json.load(sys.stdin)["top1"])'
}
mkdir -p runs
train direct "[{name: ternary, epochs: 5, weight_quant: ternary, $ternary_lr, init: $fp}]"
train layerwise "[$int8, {name: ternary, epochs: 4, weight_quant: ternary, quant: {granularity: layer}, $ternary_lr}]"
echo "| recipe (after fp) | fp top-1 | ternary top-1 |"
echo "| --- | --- | --- |"
echo "| int8 1 + ternary 4, channel-wise (demo) | $(top1 "$fp") | $(top1 "$demo/checkpoints/best-ternary") |"
echo "| ternary 5, channel-wise (direct) | $(top1 "$fp") | $(top1 runs/ablation_direct/checkpoints/best-ternary) |"
echo "| int8 1 + ternary 4, layer-wise | $(top1 "$fp") | $(top1 runs/ablation_layerwise/checkpoints/best-ternary) |"
