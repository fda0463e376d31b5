#!/usr/bin/env bash
# Checks that every include points down the architecture's floors (README.md, "Architecture") and that the
# LibTorch-free floors include nothing of LibTorch. Prints each wrong include as file:line and exits 1.
# Usage: tools/check_floors.sh [SOURCE_ROOT]   (default: the checkout holding this script)
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}

# floor: the floors its files may include (its own floor is always allowed).
declare -A allowed=(
  [core]=""
  [image]="core"
  [kernels]="core"
  [runtime]="core image kernels"
  [libtorch]="core"
  [data]="core image libtorch"
  [quant]="core kernels libtorch"
  [models]="core image kernels libtorch quant"
  [engine]="core data image libtorch models quant runtime"
  [deploy]="core image kernels libtorch models quant"
  [cli]="core image kernels runtime libtorch data quant models engine deploy"
)
libtorch_free="core image kernels runtime"

floor_of_include() {  # "tervit/kernels/x.h" -> kernels, "models/x.h" -> models, "src/engine/x.h" -> engine
  local path=$1
  case $path in
    tervit/*/*) path=${path#tervit/}; echo "${path%%/*}" ;;
    src/*/*) path=${path#src/}; echo "${path%%/*}" ;;
    models/*) echo models ;;
    *) echo "" ;;
  esac
}

status=0
for floor in "${!allowed[@]}"; do
  folders=()
  if [[ $floor == models ]]; then folders=("$root/models"); else folders=("$root/src/$floor" "$root/include/tervit/$floor"); fi
  for folder in "${folders[@]}"; do
    [[ -d $folder ]] || continue
    while IFS=: read -r file line text; do
      target=$(sed -E 's/^[[:space:]]*#include[[:space:]]*"([^"]+)".*/\1/' <<<"$text")
      target_floor=$(floor_of_include "$target")
      [[ -z $target_floor || $target_floor == "$floor" ]] && continue
      if [[ " ${allowed[$floor]} " != *" $target_floor "* ]]; then
        echo "${file#$root/}:$line: $floor includes $target ($target_floor is not below $floor)"
        status=1
      fi
    done < <(grep -rnE '^[[:space:]]*#include[[:space:]]*"' "$folder" || true)
    if [[ " $libtorch_free " == *" $floor "* ]]; then
      while IFS=: read -r file line text; do
        echo "${file#$root/}:$line: $floor is LibTorch-free, but includes $(sed -E 's/.*#include[[:space:]]*//' <<<"$text")"
        status=1
      done < <(grep -rnE '^[[:space:]]*#include[[:space:]]*<(torch|ATen|c10|caffe2)/' "$folder" || true)
    fi
  done
done
exit $status
