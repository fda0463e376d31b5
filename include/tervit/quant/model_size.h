#pragma once
// A model's size as the TerViT paper counts it: 2 bits per ternary weight, 8 per int8 weight, 32 per
// every other parameter (full-precision matrices, biases, norms, embeddings), scales not counted.
// MB = 10^6 bytes. The breakdown adds the scale count, which a real export must also store.
#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace tervit::quant {

struct ModelSize {
  int64_t ternary_weights = 0;
  int64_t int8_weights = 0;
  int64_t float_parameters = 0;
  int64_t scales = 0;  // one per output channel (or matrix) of each quantized weight

  double paper_megabytes() const;
  // "13.08 MB (paper accounting): 49.43 M ternary, 0 int8, 0.18 M float parameters; 20.3 k scales"
  std::string summary() const;
};

// Counts `model`'s parameters by the quantizer each quantizable layer currently has.
ModelSize model_size(torch::nn::Module& model);

}  // namespace tervit::quant
