#!/usr/bin/env bash
# Installs every dependency of tervit on Debian 12 (and on the Ubuntu 22.04 of NVIDIA's PyTorch images,
# for docker/Dockerfile). Idempotent: packages already present are skipped, and OpenBLAS is (re)selected
# as the BLAS/LAPACK provider every time, because LibTorch is otherwise linked to the reference BLAS,
# 20-40x slower. With --fuzz, also clang and its libFuzzer runtime (tools/fuzz.sh only: some 150 MB
# that the build and the tests do not need).
#   TERVIT_TORCH_PREFIX=DIR: LibTorch comes from DIR (its CMake package, e.g. a CUDA LibTorch or
#   python -c 'import torch; print(torch.utils.cmake_prefix_path)'); Debian's CPU libtorch-dev is skipped.
set -euo pipefail

distribution=$(. /etc/os-release 2>/dev/null && echo "${ID:-debian}" || echo debian)
packages=(
  build-essential cmake ninja-build pkg-config
  libgloo-dev  # Gloo's headers, which LibTorch's c10d headers include
  libopenblas0-openmp
  libyaml-cpp-dev libspdlog-dev libcli11-dev libopencv-dev nlohmann-json3-dev catch2
  zlib1g-dev libpng-dev
  libonnx-dev libprotobuf-dev  # ONNX export: onnx's protobuf classes and checker, protobuf's headers
  dataset-fashion-mnist
)
if [ -n "${TERVIT_TORCH_PREFIX:-}" ]; then
  echo "[install_deps] LibTorch from TERVIT_TORCH_PREFIX=$TERVIT_TORCH_PREFIX (libtorch-dev not installed)"
else
  packages+=(libtorch-dev)
fi
if [ "$distribution" = ubuntu ]; then packages+=(libjpeg-turbo8-dev); else packages+=(libjpeg62-turbo-dev); fi
[ "${1:-}" = "--fuzz" ] && packages+=(clang-14 libclang-rt-14-dev)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "[install_deps] installing: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "[install_deps] all packages present"
fi

# Select OpenBLAS (OpenMP flavour) for every BLAS/LAPACK alternative that it provides.
arch_dir=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
for alt in libblas.so.3 liblapack.so.3; do
  name="${alt}-$(basename "$arch_dir")"
  target="$arch_dir/openblas-openmp/$alt"
  if [ -e "$target" ] && update-alternatives --query "$name" >/dev/null 2>&1; then
    current=$(update-alternatives --query "$name" | awk '/^Value:/{print $2}')
    if [ "$current" != "$target" ]; then
      sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
      $sudo_cmd update-alternatives --set "$name" "$target"
    fi
    echo "[install_deps] $name -> $target"
  fi
done
