#!/usr/bin/env bash
# Completes the CUDA 13 libraries that PyPI's torch wheel installed in .venv (nvidia/cu13) into the CUDA
# toolkit that torch's CMake package asks for (it enables the CUDA language and links CUDA:: targets),
# from NVIDIA's PyPI wheels alone: for the image's build stage, where no CUDA toolkit can be installed.
# Adds nvcc, its front end (crt headers, nvvm) and cuRAND at the runtime's major.minor, the unversioned
# library names the linker looks for, and an empty libcuda.so in lib/stubs: the driver comes from the host
# at run time, and tervit links with --as-needed, so the stub is never recorded as a dependency.
# Prints the toolkit's root (for CUDAToolkit_ROOT and CUDA_HOME).
set -euo pipefail
cd "$(dirname "$0")/.."
python=.venv/bin/python
runtime=$($python -m pip show nvidia-cuda-runtime | awk '/^Version:/{print $2}')
[ -n "$runtime" ] || { echo "pypi_cuda_toolkit: torch's nvidia-cuda-runtime is not installed in .venv" >&2; exit 2; }
series=$(echo "$runtime" | cut -d. -f1-2)
$python -m pip install -q "nvidia-cuda-nvcc==$series.*" "nvidia-nvvm==$series.*" "nvidia-cuda-crt==$series.*" \
  "nvidia-curand==10.4.*" >&2
root=$($python -c 'import nvidia, os; print(os.path.join(nvidia.__path__[0], "cu13"))')
chmod +x "$root"/bin/* "$root"/nvvm/bin/*
for versioned in "$root"/lib/lib*.so.*; do
  name=$(basename "$versioned")
  [ -e "$root/lib/${name%%.so.*}.so" ] || ln -s "$name" "$root/lib/${name%%.so.*}.so"
done
mkdir -p "$root/lib/stubs"
[ -e "$root/lib/stubs/libcuda.so" ] || gcc -shared -x c /dev/null -o "$root/lib/stubs/libcuda.so"
echo "$root"
