#pragma once
// A model's quantized weights in a few passes instead of one per layer. A forward pass otherwise runs
// each layer's weight quantizer, some 15 small kernels per layer (about 750 for deit_tiny; on a GPU each
// one a launch). Layers whose quantizers map each output channel's row by the same function
// (WeightQuantizer::row_function: channel-wise ternary and absmax int8, nothing learnable) are grouped
// by that function, row length, device and dtype; each group's rows are concatenated, quantized in one
// pass, and split back into the layers' weights. Values and gradients equal the per-layer quantizers'.
#include <vector>

#include "tervit/quant/quant_layers.h"

namespace tervit::quant {

// While alive, each batched layer's effective_weight() is the weight prepared here; at destruction the
// layers go back to quantizing on their own. Layers alone in their group, with a kernel, or whose
// quantizer is not row-wise are left to do so throughout.
class BatchedWeights {
 public:
  explicit BatchedWeights(const std::vector<QuantizableLayer*>& layers);
  ~BatchedWeights();
  BatchedWeights(const BatchedWeights&) = delete;
  BatchedWeights& operator=(const BatchedWeights&) = delete;

  // The layers whose weights were prepared here, and in how many passes.
  size_t batched_layers() const { return prepared_.size(); }
  size_t passes() const { return passes_; }

 private:
  std::vector<QuantizableLayer*> prepared_;
  size_t passes_ = 0;
};

}  // namespace tervit::quant
