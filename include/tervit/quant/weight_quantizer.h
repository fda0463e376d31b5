#pragma once
// The contract between quantizable layers and weight quantizers: a quantizer maps a layer's latent
// float weight (C_out x ...) to the weight used in forward, differentiably (straight-through where the
// map itself is not). A null quantizer means full precision. One quantizer object serves one layer,
// so it may own per-channel learnable state.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace tervit::quant {

class WeightQuantizer {
 public:
  virtual ~WeightQuantizer() = default;
  virtual torch::Tensor quantize(const torch::Tensor& weight) = 0;
  virtual std::string name() const = 0;
  // Storage cost as the paper counts it: 2 bits per ternary weight, 8 per int8 weight.
  virtual int bits_per_weight() const = 0;
  // Float scales a deployment stores beside `weight` (one per channel, or one per matrix).
  virtual int64_t scale_count(const torch::Tensor& weight) const = 0;
  // Learnable quantizer tensors (α, LSQ steps) for the optimizer. They are kept out of the layer's
  // registered parameters so that timm state dicts still load strictly.
  virtual std::vector<torch::Tensor> parameters() const { return {}; }
};

using WeightQuantizerPtr = std::shared_ptr<WeightQuantizer>;

}  // namespace tervit::quant
