#!/usr/bin/env bash
# Crash-and-resume torture test: trains the demo config (shortened with --set) once without interruption,
# then again while killing it (SIGKILL) at least KILLS times, resuming with --resume auto after each kill:
# half of the kills come while a checkpoint is being written (its hidden temporary folder exists), the
# others at a random moment. After every kill no step checkpoint may be half-written (one that resume
# could pick up must hold every part); at the end the final weights (model.safetensors, byte for byte) and
# metrics.jsonl (without its timing fields) must equal the uninterrupted run's.
#   tools/torture_resume.sh [--kills N] [--short] [--seed S] [--build-dir DIR] [--work DIR]
# --short: tiny data and stages, for CI (about half a minute). Exit 0 when everything matched.
set -euo pipefail
cd "$(dirname "$0")/.."

kills_wanted=20
short=0
seed=1
build_dir=build
work=""
while (($#)); do
  case "$1" in
    --kills) kills_wanted=$2; shift 2 ;;
    --short) short=1; shift ;;
    --seed) seed=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    *) echo "torture_resume.sh: unknown argument '$1' (see the header of $0)" >&2; exit 2 ;;
  esac
done
[[ $kills_wanted =~ ^[0-9]+$ && $seed =~ ^[0-9]+$ ]] || { echo "torture_resume.sh: --kills and --seed take integers" >&2; exit 2; }
for program in tervit-train tervit-data; do
  [ -x "$build_dir/$program" ] || { echo "torture_resume.sh: $build_dir/$program not found; run tools/build.sh first" >&2; exit 2; }
done
if [ -z "$work" ]; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/tervit-torture.XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi
RANDOM=$seed

# The demo config, shortened: a slice of Fashion-MNIST, fewer epochs, a checkpoint every few steps.
if ((short)); then
  images=160 stages='[{name: fp, epochs: 1, lr: 2.0e-3}, {name: int8, epochs: 1, weight_quant: int8, lr: 2.0e-4}, {name: ternary, epochs: 1, weight_quant: ternary, lr: 5.0e-4}]'
  settings=(--set data.batch_size=16 --set checkpoint.every_steps=2 --set logging.every_steps=2 --set model.architecture.depth=1)
else
  images=2048 stages='[{name: fp, epochs: 2, lr: 2.0e-3, warmup_epochs: 0.5}, {name: int8, epochs: 1, weight_quant: int8, lr: 2.0e-4, min_lr: 1.0e-6}, {name: ternary, epochs: 1, weight_quant: ternary, lr: 5.0e-4, warmup_epochs: 0.2, min_lr: 1.0e-6}]'
  settings=(--set data.batch_size=64 --set checkpoint.every_steps=4 --set logging.every_steps=4)
fi
"$build_dir/tervit-data" --log-level warn fashion-mnist --out "$work/fm" --limit "$images"
train=("$build_dir/tervit-train" --config configs/demo_fashion_mnist.yaml --log-level warn --set "data.root=$work/fm"
       --set "stages=$stages" --set checkpoint.keep_last=2 --set runtime.threads=1 --set data.workers=1 "${settings[@]}")

start_us=${EPOCHREALTIME/./}
"${train[@]}" --output "$work/reference" 2>"$work/reference.err" || { cat "$work/reference.err" >&2; exit 1; }
reference_ms=$(((${EPOCHREALTIME/./} - start_us) / 1000))
echo "uninterrupted run: $((reference_ms / 1000)) s"

# A builtin sleep (read with a timeout on a pipe that never delivers): polling must not fork.
exec {never}<> <(:)
nap() { read -r -t "$1" -u "$never" || true; }

checkpoints="$work/killed/checkpoints"
# A checkpoint write of the running process is in progress (older kills' leftovers carry other pids).
writing() { compgen -G "$checkpoints/.step-*.tmp.$pid.*" >/dev/null; }
# The newest step checkpoint's path in REPLY (globs expand sorted, and names sort in step order).
newest() { local all=("$checkpoints"/step-*); REPLY=${all[-1]}; }
now_ms() { REPLY=$((${EPOCHREALTIME/./} / 1000)); }

# Every checkpoint folder under its final name (step-*, which resume picks from, and best-*) must hold all
# its parts, trainer_state.json (written last) included; partial writes live only in hidden folders.
check_no_half_written() {
  local folder part
  for folder in $(compgen -G "$checkpoints/step-*"; compgen -G "$checkpoints/best-*"); do
    [ -f "$folder/trainer_state.json" ] || { echo "FAIL: $folder has no trainer_state.json (half-written)" >&2; return 1; }
    for part in model.safetensors quantizers.safetensors optimizer.safetensors diagnostics.safetensors config.yaml; do
      [ -s "$folder/$part" ] || { echo "FAIL: $folder lacks $part" >&2; return 1; }
    done
  done
}

kills=0 during_write=0 attempts=0
while :; do
  ((++attempts <= 10 * kills_wanted + 20)) || { echo "FAIL: the run did not finish after $attempts starts" >&2; exit 1; }
  "${train[@]}" --output "$work/killed" --resume auto 2>>"$work/killed.err" &
  pid=$!
  killed=0
  if ((kills < kills_wanted)); then
    newest; at_start=$REPLY
    if ((kills % 2 == 0)); then
      # During a write: once one new checkpoint is complete (so that every kill gains ground), kill as soon
      # as the next write has begun, or when a second one appeared (a write too quick to be seen).
      progressed=0
      while kill -0 "$pid" 2>/dev/null; do
        newest; current=$REPLY
        if [ "$current" != "$at_start" ]; then
          if ((progressed)) && { writing || [ "$current" != "$first_new" ]; }; then
            writing && ((++during_write))
            kill -KILL "$pid" 2>/dev/null && killed=1
            break
          fi
          ((progressed)) || { progressed=1; first_new=$current; }
        fi
        nap 0.002
      done
    else
      # At a random moment 0.2 s to 4 s after the start (LibTorch's start-up included), but within the
      # first third of an uninterrupted run's time, so that the kill lands before a resumed run ends.
      span=$((reference_ms / 3 - 200)); ((span > 3800)) && span=3800; ((span < 1)) && span=1
      now_ms; deadline=$((REPLY + 200 + RANDOM % span))
      while kill -0 "$pid" 2>/dev/null && now_ms && ((REPLY < deadline)); do nap 0.01; done
      writing && ((++during_write))
      kill -KILL "$pid" 2>/dev/null && killed=1
    fi
  fi
  status=0
  wait "$pid" 2>/dev/null || status=$?  # (no "Killed" job notice)
  if ((killed)) && ((status == 137)); then
    ((++kills))
    check_no_half_written || exit 1
    continue
  fi
  ((status == 0)) && break
  echo "FAIL: tervit-train exited with $status; its stderr:" >&2
  tail -20 "$work/killed.err" >&2
  exit 1
done

# The uninterrupted run's final weights and metrics against the killed run's.
final() { compgen -G "$1/checkpoints/step-*" | sort | tail -1; }
without_timing() { sed -E 's/,"(eval_)?img_per_s":[^,}]*//g' "$1"; }
weights_equal=no metrics_equal=no
cmp -s "$(final "$work/reference")/model.safetensors" "$(final "$work/killed")/model.safetensors" && weights_equal=yes
cmp -s <(without_timing "$work/reference/metrics.jsonl") <(without_timing "$work/killed/metrics.jsonl") && metrics_equal=yes
echo "torture: $kills kills ($during_write during checkpoint writes), $attempts starts, no half-written checkpoint;" \
     "final weights identical: $weights_equal; metrics.jsonl identical: $metrics_equal ($(wc -l <"$work/reference/metrics.jsonl") lines)"
[ "$weights_equal" = yes ] && [ "$metrics_equal" = yes ] && ((kills >= kills_wanted))
