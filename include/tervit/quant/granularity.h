#pragma once
// Which weights share one quantization scale: each output channel (a row of the C_out x rest matrix)
// or the whole matrix (the layer-wise ablation baseline).
#include <torch/torch.h>

namespace tervit::quant {

enum class Granularity { kChannel, kLayer };

// `weight` as a matrix whose rows are the groups that share a scale: C_out x (C_in*k*k) per channel,
// 1 x numel per layer. A view when the weight is contiguous.
inline torch::Tensor scale_groups(const torch::Tensor& weight, Granularity granularity) {
  return granularity == Granularity::kChannel ? weight.reshape({weight.size(0), -1}) : weight.reshape({1, -1});
}

inline int64_t scale_count(const torch::Tensor& weight, Granularity granularity) {
  return granularity == Granularity::kChannel ? weight.size(0) : 1;
}

}  // namespace tervit::quant
