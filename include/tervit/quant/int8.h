#pragma once
// 8-bit weights (method.md): symmetric, s = max|W|/127 per output channel (or per matrix),
// W_q = s·clamp(round(W/s), -127, 127), straight-through backward. The LSQ option learns s instead,
// starting from the absmax value so that the first step equals the plain 8-bit model.
#include <torch/torch.h>

#include "tervit/quant/granularity.h"
#include "tervit/quant/weight_quantizer.h"

namespace tervit::quant {

struct Int8Options {
  TORCH_ARG(Granularity, granularity) = Granularity::kChannel;
  TORCH_ARG(bool, lsq) = false;
};

// max|W|/127 per group (groups x 1); an all-zero group gets 1 so that it divides safely and stays 0.
torch::Tensor int8_absmax_step(const torch::Tensor& weight, Granularity granularity);

class Int8Quantizer : public WeightQuantizer {
 public:
  // `latent_weight` is the weight this quantizer will serve: the LSQ step starts from its absmax.
  Int8Quantizer(const Int8Options& options, const torch::Tensor& latent_weight);
  torch::Tensor quantize(const torch::Tensor& weight) override;
  std::string name() const override { return "int8"; }
  int bits_per_weight() const override { return 8; }
  int64_t scale_count(const torch::Tensor& weight) const override;
  std::vector<torch::Tensor> parameters() const override;
  std::string row_function() const override;
  torch::Tensor quantize_rows(const torch::Tensor& rows) const override;
  IntegerWeight integer_weight(const torch::Tensor& weight) const override;

 private:
  Int8Options options_;
  torch::Tensor learnable_step_;  // groups x 1, requires_grad; undefined unless options_.lsq()
};

}  // namespace tervit::quant
