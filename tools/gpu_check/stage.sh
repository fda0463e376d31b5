#!/usr/bin/env bash
# Stages into .gpu_check/ what building and testing tervit on a bare GPU machine needs besides its CUDA
# LibTorch (python3's torch there): Debian 12's headers, libraries and CMake packages of OpenCV, yaml-cpp,
# spdlog, fmt, CLI11, nlohmann-json, Catch2, libjpeg, libpng and zlib; stubs for OpenCV's heavy optional
# dependencies (make_stubs.py); Fashion-MNIST (the full test split, 2000 training images); and ../shared.
# About 30 MB. Then, on that machine, from the repository root: bash tools/gpu_check/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.gpu_check
rm -rf "$out" && mkdir -p "$out/root"
pkgs="libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev libopencv-core406 libopencv-imgproc406
 libopencv-imgcodecs406 libyaml-cpp-dev libyaml-cpp0.7 libspdlog-dev libspdlog1.10 libfmt-dev libfmt9 libcli11-dev
 nlohmann-json3-dev catch2 libjpeg62-turbo-dev libjpeg62-turbo zlib1g-dev zlib1g libpng-dev libtbb12 libpng16-16 libwebp7"
for p in $pkgs; do
  dpkg -L "$p" | while read -r f; do
    [ -d "$f" ] && continue
    case "$f" in
      /usr/share/doc/* | /usr/share/man/* | /usr/share/lintian/*) continue ;;
      /usr/lib/x86_64-linux-gnu/*.a) continue ;;  # static OpenCV, yaml-cpp...: not used (Catch2's is)
    esac
    mkdir -p "$out/root$(dirname "$f")"; cp -a "$f" "$out/root$f"
  done
done
# Debian 12 merges /lib into /usr/lib.
if [ -d "$out/root/lib" ]; then mkdir -p "$out/root/usr/lib"; cp -a "$out/root/lib/." "$out/root/usr/lib/"; rm -rf "$out/root/lib"; fi
ln -sf libz.so.1 "$out/root/usr/lib/x86_64-linux-gnu/libz.so"  # Debian's link is absolute
python3 tools/gpu_check/make_stubs.py "$out/stubs"
cp tools/gpu_check/OpenCVConfig.cmake "$out/"
mkdir -p "$out/fashion-mnist"
cp /usr/share/datasets/fashion-mnist/t10k-* "$out/fashion-mnist/"
python3 - "$out/fashion-mnist" <<'PY'
import gzip, struct, sys
for kind, per_item in (("images-idx3", 28 * 28), ("labels-idx1", 1)):
    name = f"train-{kind}-ubyte.gz"
    data = gzip.open(f"/usr/share/datasets/fashion-mnist/{name}").read()
    ndim = data[3]
    header = data[:4] + struct.pack(">I", 2000) + data[8:4 + 4 * ndim]
    with gzip.open(f"{sys.argv[1]}/{name}", "wb") as f:
        f.write(header + data[4 + 4 * ndim:4 + 4 * ndim + 2000 * per_item])
PY
cp -r ../shared "$out/shared"
du -sh "$out"
