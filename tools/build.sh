#!/usr/bin/env bash
# Installs what is missing and builds tervit (Release) into build/. Re-running only rebuilds changes.
# Another build folder and CMake options may follow: tools/build.sh build-asan -DTERVIT_SANITIZE=address,undefined
# TERVIT_TORCH_PREFIX=DIR builds against the LibTorch whose CMake package is in DIR (see install_deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
shift $(($# > 0 ? 1 : 0))
bash tools/install_deps.sh
generator=()
command -v ninja >/dev/null && [ ! -f "$build_dir/CMakeCache.txt" ] && generator=(-G Ninja)
prefix=()
[ -z "${TERVIT_TORCH_PREFIX:-}" ] || prefix=(-DCMAKE_PREFIX_PATH="$TERVIT_TORCH_PREFIX")
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "${generator[@]}" "${prefix[@]}" "$@" >/dev/null
cmake --build "$build_dir" --parallel "$(nproc)"
