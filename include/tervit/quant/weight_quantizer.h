#pragma once
// The contract between quantizable layers and weight quantizers: a quantizer maps a layer's latent
// float weight (C_out x ...) to the weight used in forward, differentiably (straight-through where the
// map itself is not). A null quantizer means full precision.
#include <torch/torch.h>

#include <memory>
#include <string>

namespace tervit::quant {

class WeightQuantizer {
 public:
  virtual ~WeightQuantizer() = default;
  virtual torch::Tensor quantize(const torch::Tensor& weight) = 0;
  virtual std::string name() const = 0;
};

using WeightQuantizerPtr = std::shared_ptr<WeightQuantizer>;

}  // namespace tervit::quant
