#pragma once
// What the LibTorch being compiled against offers, by version: the one place where tervit's code tells
// Debian's LibTorch 1.13 from the 2.x of pip wheels and CUDA clusters. Code tests these flags, never
// TORCH_VERSION_* itself.
#include <torch/version.h>

#define TERVIT_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

// at::scaled_dot_product_attention (flash / memory-efficient kernels on CUDA, flash attention on the CPU).
#define TERVIT_TORCH_HAS_SDPA TERVIT_TORCH_AT_LEAST(2, 0)
// c10d's collectives live in per-device Backends behind a ProcessGroup front (in 1.13: ProcessGroups).
#define TERVIT_TORCH_HAS_C10D_BACKENDS TERVIT_TORCH_AT_LEAST(2, 0)
// at::_fused_adamw_ on the CPU as well as CUDA (2.4 added the CPU kernel).
#define TERVIT_TORCH_HAS_FUSED_ADAMW TERVIT_TORCH_AT_LEAST(2, 4)
// Autocast set per device type (2.4 deprecated the CUDA-only calls).
#define TERVIT_TORCH_HAS_DEVICE_AUTOCAST TERVIT_TORCH_AT_LEAST(2, 4)
