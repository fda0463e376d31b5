#pragma once
// The family networks of the runtime, each built from a file's tensors by timm name.
#include <memory>

#include "tervit/runtime/model.h"

namespace tervit::runtime {

std::unique_ptr<Network> build_deit(const Architecture& architecture, WeightFile& file, kernels::PackedBits bits,
                                    kernels::PackedMode mode, kernels::AttentionKernel attention);
std::unique_ptr<Network> build_swin(const Architecture& architecture, WeightFile& file, kernels::PackedBits bits,
                                    kernels::PackedMode mode, kernels::AttentionKernel attention);

}  // namespace tervit::runtime
