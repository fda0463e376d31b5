#pragma once
// y = x W^T for a packed ternary matrix, on all threads (OpenMP, the threads LibTorch or the runtime set),
// with the best kernel this CPU runs. Free of LibTorch: the packed layers of a LibTorch model and the
// LibTorch-free runtime (tervit/runtime) both run their matrices through it.
#include <cstdint>
#include <string>

#include "tervit/kernels/packed_matrix.h"
#include "tervit/core/name_table.h"

namespace tervit::kernels {

// exact: float activations, equal to the fake-quantized model up to float reassociation.
// int8: activations quantized per token to int8 (W2A8), integer dot products.
enum class PackedMode { kExact, kInt8 };

// "exact" and "int8".
const NameTable<PackedMode>& packed_mode_names();

// x: tokens x w.cols, y: tokens x w.rows, both row-major float32; the bias (if any) is added.
void packed_matmul(const PackedTernaryMatrix& w, PackedMode mode, const float* x, int64_t tokens, float* y);

}  // namespace tervit::kernels
