#!/usr/bin/env bash
# tervit's training step against timm 1.0.31's on the same torch 2.15 (issue 22's benchmark), in
# alternating rounds: each round runs, one after another, tervit built on LibTorch 2.15
# (build-torch2/bench_train_step: fp and ternary), timm eager, timm under torch.compile, and tervit built
# on Debian's LibTorch 1.13 (build/bench_train_step). Each program prints its median step; this script
# prints every round's figures and, per model and thread count, the medians over the rounds.
#   bash tools/bench_vs_timm.sh [--models deit_tiny_patch16_224,deit_small_patch16_224] [--threads 1,2]
#                               [--batch 32] [--steps 3] [--rounds 2]
# Needs tools/test_torch2.sh's build-torch2/ and .venv (tools/python_env.sh --torch), and build/.
set -euo pipefail
cd "$(dirname "$0")/.."
models=deit_tiny_patch16_224,deit_small_patch16_224 threads=1,2 batch=32 steps=3 rounds=2
while (($#)); do
  case "$1" in
    --models) models=$2 ;; --threads) threads=$2 ;; --batch) batch=$2 ;; --steps) steps=$2 ;; --rounds) rounds=$2 ;;
    *) echo "bench_vs_timm.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
export TERVIT_FIXED_THREADS=1  # the thread count as asked, whatever the host's load
results=$(mktemp)
trap 'rm -f "$results"' EXIT
# The last number of each data line of a program's output, as "<what> <model> <threads> <ms>" lines.
collect() { awk -v what="$1" -v model="$2" 'NR > 1 && $1 == model { print what, model, $3, $NF }'; }
collect_tervit() {
  awk -v build="$1" -v model="$2" 'NR > 1 && $1 == model { print build "-fp", model, $3, $4; print build "-ternary", model, $3, $5 }'
}
for ((round = 1; round <= rounds; round++)); do
  for model in ${models//,/ }; do
    for t in ${threads//,/ }; do
      args=(--model "$model" --batch "$batch" --threads "$t" --steps "$steps")
      build-torch2/bench_train_step "${args[@]}" 2>/dev/null | collect_tervit tervit2.15 "$model" | tee -a "$results"
      .venv/bin/python tools/bench_train_step_timm.py "${args[@]}" 2>/dev/null | collect timm-eager "$model" | tee -a "$results"
      .venv/bin/python tools/bench_train_step_timm.py "${args[@]}" --compile 2>/dev/null | collect timm-compiled "$model" | tee -a "$results"
      build/bench_train_step "${args[@]}" 2>/dev/null | collect_tervit tervit1.13 "$model" | tee -a "$results"
    done
  done
done
echo
echo "medians over $rounds rounds (ms per step, batch $batch):"
python3 - "$results" <<'PY'
import collections, statistics, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    what, model, threads, ms = line.split()
    rows[(model, int(threads), what)].append(float(ms))
kinds = ["tervit2.15-fp", "tervit2.15-ternary", "timm-eager", "timm-compiled", "tervit1.13-fp", "tervit1.13-ternary"]
print(f"{'model':<24} {'threads':>7} " + " ".join(f"{k:>18}" for k in kinds) + " fp vs eager  fp vs compiled  ternary/fp  1.13/2.15 fp")
for model, threads in sorted({(m, t) for m, t, _ in rows}):
    med = {k: statistics.median(rows[(model, threads, k)]) for k in kinds if rows[(model, threads, k)]}
    get = lambda k: med.get(k, float("nan"))
    print(f"{model:<24} {threads:>7} " + " ".join(f"{get(k):>18.1f}" for k in kinds) +
          f" {get('timm-eager') / get('tervit2.15-fp'):>11.2f}x {get('timm-compiled') / get('tervit2.15-fp'):>13.2f}x"
          f" {get('tervit2.15-ternary') / get('tervit2.15-fp'):>10.3f} {get('tervit1.13-fp') / get('tervit2.15-fp'):>12.2f}")
PY
