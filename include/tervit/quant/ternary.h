#pragma once
// Ternary weights (method.md, TWN thresholds): per group of weights (an output channel, or the whole
// matrix) Δ = δ·mean|W|, T = sign(W) where |W| > Δ else 0, α = mean |W| over T ≠ 0 (0 when none),
// W_q = α·T. Gradients reach the latent weights straight through; a learnable α gets its true gradient.
#include <torch/torch.h>

#include "tervit/quant/granularity.h"
#include "tervit/quant/weight_quantizer.h"

namespace tervit::quant {

struct TernaryOptions {
  TORCH_ARG(double, delta) = 0.7;
  TORCH_ARG(Granularity, granularity) = Granularity::kChannel;
  // α becomes a per-group tensor trained by the optimizer, initialised from the formula.
  TORCH_ARG(bool, learnable_alpha) = false;
};

// The ternary form of a weight, grouped as scale_groups() does (rows = groups). No gradient.
struct Ternarized {
  torch::Tensor threshold;  // groups x 1: Δ
  torch::Tensor codes;      // groups x rest: T in {-1, 0, 1}, the weight's dtype
  torch::Tensor alpha;      // groups x 1: α
};

// The formulas of method.md on `weight`'s current values.
Ternarized ternarize(const torch::Tensor& weight, double delta, Granularity granularity);

class TernaryQuantizer : public WeightQuantizer {
 public:
  // `latent_weight` is the weight this quantizer will serve: a learnable α starts from its formula value.
  TernaryQuantizer(const TernaryOptions& options, const torch::Tensor& latent_weight);
  torch::Tensor quantize(const torch::Tensor& weight) override;
  std::string name() const override { return "ternary"; }
  int bits_per_weight() const override { return 2; }
  int64_t scale_count(const torch::Tensor& weight) const override;
  std::vector<torch::Tensor> parameters() const override;
  std::string row_function() const override;
  torch::Tensor quantize_rows(const torch::Tensor& rows) const override;
  IntegerWeight integer_weight(const torch::Tensor& weight) const override;

  // Codes and the α forward uses (the learnable one when enabled), for diagnostics and export.
  Ternarized ternarize(const torch::Tensor& weight) const;
  const TernaryOptions& options() const { return options_; }

 private:
  TernaryOptions options_;
  torch::Tensor learnable_alpha_;  // groups x 1, requires_grad; undefined unless options_.learnable_alpha()
};

}  // namespace tervit::quant
