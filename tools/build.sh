#!/usr/bin/env bash
# Installs what is missing and builds tervit (Release) into build/. Re-running only rebuilds changes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
generator=()
command -v ninja >/dev/null && [ ! -f build/CMakeCache.txt ] && generator=(-G Ninja)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "${generator[@]}" >/dev/null
cmake --build build --parallel "$(nproc)"
