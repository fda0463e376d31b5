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

// A quantized weight as integers and their scales: weight ≈ codes · scale[row], for deployment formats
// that store the integers (ONNX's INT8 initializers).
struct IntegerWeight {
  torch::Tensor codes;  // the weight's shape, integer values (float dtype)
  torch::Tensor scale;  // [C_out]: one per output channel (a layer-wise scale repeated)
};

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

  // Quantizers that map each output channel's row of the latent weight by one function of that row alone
  // (channel-wise, nothing learnable) can serve many layers in one pass (batched_weights.h): an id of
  // that function (equal ids, equal functions), or "" when this one cannot.
  virtual std::string row_function() const { return ""; }
  // That function on rows (R x K, any number of rows), without gradient: the quantized values. Only
  // called where row_function() is not empty.
  virtual torch::Tensor quantize_rows(const torch::Tensor& rows) const;

  // The weight forward uses, as integers and per-channel scales (without gradient): codes · scale equals
  // quantize(weight) up to float rounding.
  virtual IntegerWeight integer_weight(const torch::Tensor& weight) const = 0;
};

using WeightQuantizerPtr = std::shared_ptr<WeightQuantizer>;

}  // namespace tervit::quant
