#!/usr/bin/env bash
# Fuzzes the parsers of outside input with libFuzzer: tools/fuzz.sh TARGET[,TARGET...]|all SECONDS
#   targets: safetensors packed_model config trainer_state image_decode index_cache (fuzz/fuzz_TARGET.cpp)
# Builds them with clang, ASan and UBSan into build-fuzz/ (the first build takes some 10 minutes), then runs
# each for SECONDS, one after the other, from its committed seeds fuzz/corpus/TARGET/. New inputs go to
# build-fuzz/corpus/TARGET/ (not committed); an input that crashes, leaks or trips a sanitizer stops the
# run and is kept in build-fuzz/findings/TARGET/. The last lines of each log carry exec/s, cov and ft.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(safetensors packed_model config trainer_state image_decode index_cache)
usage="usage: tools/fuzz.sh TARGET[,TARGET...]|all SECONDS (targets: ${targets[*]})"
[ $# -eq 2 ] && [[ $2 =~ ^[0-9]+$ ]] || { echo "$usage" >&2; exit 2; }
if [ "$1" != all ]; then
  IFS=, read -r -a chosen <<<"$1"
  for target in "${chosen[@]}"; do
    [[ " ${targets[*]} " == *" $target "* ]] || { echo "unknown target '$target'; $usage" >&2; exit 2; }
  done
  targets=("${chosen[@]}")
fi

bash tools/install_deps.sh --fuzz
generator=()
command -v ninja >/dev/null && [ ! -f build-fuzz/CMakeCache.txt ] && generator=(-G Ninja)
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++-14 -DTERVIT_FUZZ=ON "${generator[@]}" >/dev/null
cmake --build build-fuzz --target fuzz_targets --parallel "$(nproc)"

status=0
for target in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus/$target" "build-fuzz/findings/$target"
  echo "== fuzz_$target for $2 s (log: build-fuzz/fuzz_$target.log)"
  # One process; -timeout flags an input that takes over 25 s; -rss_limit_mb bounds memory.
  if ! "build-fuzz/fuzz_$target" "build-fuzz/corpus/$target" "fuzz/corpus/$target" -max_total_time="$2" \
      -timeout=25 -rss_limit_mb=3072 -print_final_stats=1 -artifact_prefix="build-fuzz/findings/$target/" \
      >"build-fuzz/fuzz_$target.log" 2>&1; then
    echo "   FINDING: see build-fuzz/fuzz_$target.log and build-fuzz/findings/$target/"
    status=1
  fi
  { grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE)' "build-fuzz/fuzz_$target.log" || true; } | tail -1
  grep -E '^(Done|stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb))' "build-fuzz/fuzz_$target.log" || true
done
exit $status
