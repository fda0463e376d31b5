#!/usr/bin/env bash
# Run inside the built image (tools/docker_build.sh does) with the checkout mounted at /src and ../shared at
# /shared: no library missing, no compiler or development package, every program starts, tervit_tests
# without its [slow] cases passes, and the demo config trains for one epoch per stage on a Fashion-MNIST
# subset and its ternary checkpoint evaluates.
set -euo pipefail
step() { echo "[image_selftest] $*"; }

# libcuda.so.1 is the GPU driver's: the container runtime mounts it from the host. NVSHMEM's transport and
# bootstrap plugins (UCX, libfabric, MPI, PMIx, GPUNetIO) are loaded by NVSHMEM only when a job asks for that
# transport, from the host's stack; tervit asks for none.
missing=$(find /opt/tervit/bin /opt/tervit/lib -type f \( -perm -u+x -o -name '*.so*' \) -print0 |
  xargs -0 -n 1 sh -c 'ldd "$0" 2>/dev/null | grep "not found" | sed "s|^|$0: |"' |
  grep -v -e 'libcuda\.so\.1 ' -e '/nvshmem/lib/nvshmem_\(transport\|bootstrap\)_' || true)
[ -z "$missing" ] || { echo "$missing"; echo "[image_selftest] libraries missing" >&2; exit 1; }
step "ldd: every library of $(find /opt/tervit -name '*.so*' -type f | wc -l) and every program found"

for compiler in cc gcc g++ c++ clang nvcc cmake; do
  ! command -v "$compiler" >/dev/null || { echo "[image_selftest] $compiler is in the image" >&2; exit 1; }
done
development=$(dpkg-query -W -f='${Package}\n' | grep -e '-dev$' || true)
[ -z "$development" ] || { echo "[image_selftest] development packages: $development" >&2; exit 1; }
step "no compiler, no -dev package; $(dpkg-query -W | wc -l) Debian packages"

for program in tervit-train tervit-eval tervit-data tervit-export tervit-run; do
  "$program" --help > /dev/null
done
{ tervit-launch --help 2>&1 || true; } | grep -q 'usage: .*--nproc'
step "the programs start"

# Each case in its own process, as ctest runs them (one case measures the page faults of its own heap).
start=$(date +%s)
scratch=$(mktemp -d)
export TERVIT_SOURCE_DIR=/src TERVIT_SHARED_DIR=/shared TERVIT_BINARY_DIR=/opt/tervit/bin
# Catch2 v2 exits with the number of cases it lists.
{ tervit_tests --list-test-names-only '~[slow]' || true; } | grep -v '^$' > "$scratch/cases"
[ -s "$scratch/cases" ] || { echo "[image_selftest] tervit_tests lists no case" >&2; exit 1; }
run_case() {
  local spec log
  spec=$(printf '%s' "$1" | sed -e 's/[],[*~"\\]/\\&/g')  # Catch2's special characters, escaped
  log=$(mktemp "$scratch/case.XXXXXX")
  tervit_tests "$spec" > "$log" 2>&1 || { echo "FAILED: $1"; grep -A12 'FAILED' "$log" | head -40; return 1; }
  grep -q '^tervit-test-skipped:' "$log" && echo "skipped: $1: $(grep -m1 '^tervit-test-skipped:' "$log" | cut -c22-)"
  return 0
}
export -f run_case && export scratch
xargs -d '\n' -P "$(nproc)" -I{} bash -c 'run_case "$1"' _ {} < "$scratch/cases" ||
  { echo "[image_selftest] tervit_tests failed" >&2; exit 1; }
step "tervit_tests: $(wc -l < "$scratch/cases") cases without [slow], each in its own process, passed in $(( $(date +%s) - start )) s"

start=$(date +%s)
tervit-data fashion-mnist --out "$scratch/data" --limit 2048 > /dev/null
tervit-train --config /opt/tervit/configs/demo_fashion_mnist.yaml --output "$scratch/run" \
  --set "data.root=$scratch/data" --set runtime.device=cpu \
  --set 'stages=[{name: fp, epochs: 1, weight_quant: fp, lr: 2.0e-3}, {name: int8, epochs: 1, weight_quant: int8, lr: 2.0e-4}, {name: ternary, epochs: 1, weight_quant: ternary, lr: 5.0e-4}]' \
  > "$scratch/train.log" 2>&1 || { tail -20 "$scratch/train.log"; exit 1; }
result=$(tervit-eval --checkpoint "$scratch/run/checkpoints/best-ternary" --data "$scratch/data/val" --batch-size 256 | tail -1)
echo "$result"
# Chance is 10%: a model that trained at all is well above it after 24 steps.
top1=$(echo "$result" | sed -E 's/.*"top1":([0-9.]+).*/\1/')
awk -v top1="$top1" 'BEGIN { exit !(top1 > 25) }' || { echo "[image_selftest] top-1 $top1% is not above chance" >&2; exit 1; }
step "demo: 3 stages of 1 epoch on 2048 images and the ternary evaluation in $(( $(date +%s) - start )) s"
rm -rf "$scratch"
