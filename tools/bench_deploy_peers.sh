#!/usr/bin/env bash
# The deployment anchor: the same ternary model (random weights, channel-wise) in four engines, batch 1
# and 32, 1 and 2 threads, in alternating rounds, each run its own process (so that its peak RSS is its
# own): ONNX Runtime fp32 on the float export, ONNX Runtime on the dynamic export (int8 activations,
# DynamicQuantizeMatMul), OpenVINO on the qdq export, and tervit-run (int8 mode) on the packed file, with
# float and with int8 attention.
# Prints one line per run (img/s, peak RSS MB), then the medians.
#   bash tools/bench_deploy_peers.sh [ROUNDS=2] [SECONDS=3] [MODELS="deit_small swin_small"]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2} seconds=${2:-3} models=${3:-"deit_small swin_small"}
declare -A variant=([deit_small]=deit_small_patch16_224 [swin_small]=swin_small_patch4_window7_224)
bash tools/python_env.sh >/dev/null
mkdir -p out
for m in $models; do
  [ -f "out/$m.packed" ] || build/bench_packed pack --model "${variant[$m]}" --out "out/$m.packed" >/dev/null
  for form in float dynamic qdq; do
    build/tervit-export --packed "out/$m.packed" --format onnx --onnx-form "$form" --out "out/$m.$form.onnx" 2>/dev/null >/dev/null
  done
done
results=$(mktemp)
echo "[bench_deploy_peers] $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
  for m in $models; do
    for batch in 1 32; do
      for threads in 1 2; do
        case_="$m batch $batch threads $threads"
        line() { echo "$round|$case_|$1|$2|$3" | tee -a "$results"; }
        for engine in "ort-fp32 onnxruntime float" "ort-dynamic onnxruntime dynamic" "openvino-qdq openvino qdq"; do
          set -- $engine
          out=$(.venv/bin/python tools/bench_onnx.py --runtime "$2" --model "out/$m.$3.onnx" --batch "$batch" --threads "$threads" --seconds "$seconds")
          read -r ips rss < <(python3 -c 'import json, sys; r = json.load(sys.stdin); print(r["images_per_second"], r["peak_rss_mb"])' <<<"$out")
          line "$1" "$ips" "$rss"
        done
        for attention in float int8; do
          err=$(mktemp)
          ips=$(build/tervit-run --packed "out/$m.packed" --attention "$attention" --batch "$batch" --threads "$threads" \
            --seconds "$seconds" 2>"$err" | sed -n 's/.*: \([0-9.]*\) images\/s.*/\1/p')
          line "tervit-run-$attention-attention" "$ips" "$(sed -n 's/.*MB after loading, \([0-9.]*\) MB at the end.*/\1/p' "$err")"
          rm -f "$err"
        done
      done
    done
  done
done
echo "[bench_deploy_peers] medians over $rounds rounds: case | engine | img/s | peak RSS MB"
python3 tools/medians.py "$results" --keys 1,2 --values 3,4
rm -f "$results"
