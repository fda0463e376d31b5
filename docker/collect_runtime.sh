#!/usr/bin/env bash
# Gathers what the image's final stage needs from the build stage into DEST (default /opt/tervit):
#   bin/      the programs, tervit_tests (with its helper) and the benchmarks, with tools/launch.sh as tervit-launch; their
#             run path is $ORIGIN/../lib/torch/lib, so the tree works wherever it is unpacked
#   lib/      torch's libraries and NVIDIA's, in the wheel's layout (torch finds cuDNN, NCCL, cuBLAS
#             through its own $ORIGIN/../../nvidia/... paths); no Python bindings, headers or static
#             libraries, and none of the toolkit parts that pypi_cuda_toolkit.sh added
#   configs/  the shipped configs
#   share/runtime-packages.txt  the Debian packages that own the other libraries the programs load
# usage: docker/collect_runtime.sh BUILD_DIR [DEST]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: docker/collect_runtime.sh BUILD_DIR [DEST]}
dest=${2:-/opt/tervit}
site=$(.venv/bin/python -c 'import torch, os; print(os.path.dirname(os.path.dirname(torch.__file__)))')
mkdir -p "$dest/bin" "$dest/lib/torch/lib" "$dest/configs" "$dest/share"

# cpu_environment_probe is a helper that tervit_tests runs.
programs=(tervit-train tervit-eval tervit-data tervit-export tervit-run tervit_tests cpu_environment_probe)
for bench in "$build"/bench_*; do programs+=("$(basename "$bench")"); done
for program in "${programs[@]}"; do
  install -m 755 "$build/$program" "$dest/bin/$program"
  patchelf --set-rpath '$ORIGIN/../lib/torch/lib' "$dest/bin/$program"
done
install -m 755 tools/launch.sh "$dest/bin/tervit-launch"
cp configs/*.yaml "$dest/configs/"

find "$site/torch/lib" -maxdepth 1 -name '*.so*' ! -name 'libtorch_python.so' ! -name 'libshm.so' \
  -exec cp -a {} "$dest/lib/torch/lib/" \;
# Regular files only: wheels hold no symbolic links, so the links in there are the development names that
# pypi_cuda_toolkit.sh added.
(cd "$site" && find nvidia -path '*/lib/*' -name '*.so*' ! -path '*/stubs/*' -type f) | while read -r library; do
  mkdir -p "$dest/lib/$(dirname "$library")"
  cp -a "$site/$library" "$dest/lib/$library"
done

# Debian packages of the loaded libraries that are neither torch's nor NVIDIA's.
for program in "${programs[@]}"; do ldd "$dest/bin/$program"; done | awk '$2 == "=>" && $3 ~ /^\// {print $3}' |
  xargs readlink -f | sort -u | grep -v -e "^$(readlink -f "$dest")/" -e "^$(readlink -f "$site")/" | while read -r library; do
    dpkg -S "$library" 2>/dev/null || dpkg -S "${library#/usr}" 2>/dev/null ||
      { echo "collect_runtime: no Debian package owns $library" >&2; exit 2; }
  done | cut -d: -f1 | sort -u > "$dest/share/runtime-packages.txt"
echo "[collect_runtime] $dest: ${#programs[@]} programs, $(du -sh "$dest/lib" | cut -f1) of libraries," \
  "Debian packages: $(tr '\n' ' ' < "$dest/share/runtime-packages.txt")"
