#!/usr/bin/env bash
# Times a command at 1 and 2 threads (alternating, ROUNDS rounds) while another process keeps one core
# busy, as on a shared machine: whether more threads ever make tervit slower. {threads} in the command
# is replaced by the thread count; each run prints its wall seconds and its own last output line.
#   bash tools/bench_busy_core.sh 3 build/tervit-run --packed out/deit_small.packed --threads {threads} --seconds 3
#   BUSY=0 bash tools/bench_busy_core.sh ...   the same on an idle machine, for comparison
set -euo pipefail
rounds=$1
shift
busy=()
if [ "${BUSY:-1}" = 1 ]; then
  yes > /dev/null &
  busy=($!)
  trap 'kill "${busy[@]}" 2>/dev/null' EXIT
fi
echo "busy core: ${BUSY:-1}; $(uptime)"
for round in $(seq "$rounds"); do
  for threads in 1 2; do
    command=("${@//\{threads\}/$threads}")
    start=$(date +%s.%N)
    last=$("${command[@]}" 2>&1 | tail -n 1)
    seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
    printf 'round %d threads %d: %6s s | %s\n' "$round" "$threads" "$seconds" "$last"
  done
done
