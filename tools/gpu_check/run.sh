#!/usr/bin/env bash
# On a GPU machine with python3's CUDA torch (no internet, nothing else installed): builds tervit into
# build-cuda/ against that LibTorch and the files tools/gpu_check/stage.sh put in .gpu_check/, then runs
# the CUDA tests, a GPU training-step benchmark and the whole suite. Logs go to $OUT (or .gpu_check/logs).
set -uo pipefail
cd "$(dirname "$0")/../.."
D=$PWD/.gpu_check R=$PWD/.gpu_check/root/usr L=$PWD/.gpu_check/root/usr/lib/x86_64-linux-gnu
logs=${OUT:-$D/logs}; mkdir -p "$logs"
nvidia-smi -L; g++ --version | head -1; cmake --version | head -1
python3 -c 'import torch; print("torch", torch.__version__, "cxx11abi", torch._C._GLIBCXX_USE_CXX11_ABI, "nccl", torch.cuda.nccl.version())'
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
# Where the tests look for their data: Debian's dataset path and ../shared.
mkdir -p /usr/share/datasets/fashion-mnist && cp "$D"/fashion-mnist/* /usr/share/datasets/fashion-mnist/
[ -e ../shared ] || cp -r "$D/shared" ../shared
export LD_LIBRARY_PATH=$D/stubs:$L${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# Debian's jconfig.h lives in the multiarch folder, which must win over the machine's own libjpeg headers.
cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_POLICY_VERSION_MINIMUM=3.5 \
  "-DCMAKE_PREFIX_PATH=$R;$torch_prefix" -DOpenCV_DIR="$D" "-DCMAKE_CXX_FLAGS=-isystem $R/include/x86_64-linux-gnu" \
  "-DCMAKE_EXE_LINKER_FLAGS=-Wl,-rpath-link,$D/stubs:$L" > "$logs/configure.log" 2>&1 || { tail -30 "$logs/configure.log"; exit 1; }
start=$(date +%s)
cmake --build build-cuda --parallel "$(nproc)" -- -k 0 > "$logs/build.log" 2>&1 || { grep -B2 -A12 "error:" "$logs/build.log" | head -150; exit 1; }
echo "== built in $(( $(date +%s) - start )) s"
build-cuda/tervit_tests "[cuda]" 2>&1 | tee "$logs/cuda_tests.log" | tail -40
build-cuda/bench_train_step --device cuda --amp bf16 --batch 128 --steps 10 2>&1 | tail -3
build-cuda/bench_train_step --device cuda --amp none --batch 128 --steps 10 2>&1 | tail -3
# 8 tests at once, 2 OpenMP threads each. With LibTorch's default (one per core) in each of them, the
# full-size packing test, seconds long alone, ran past its 120 s timeout.
(cd build-cuda && OMP_NUM_THREADS=2 timeout 240 ctest --parallel 8 --timeout 120 --output-on-failure > "$logs/ctest.log" 2>&1)
grep -E "tests passed|\*\*\*Failed|Timeout|Exception" "$logs/ctest.log" | head -60
