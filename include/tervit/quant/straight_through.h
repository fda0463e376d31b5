#pragma once
// The straight-through estimator without a custom autograd Function: forward sees `value`, backward
// passes the upstream gradient to `gradient_source` unchanged (plus whatever gradient `value` itself
// carries, e.g. to a learnable scale). `source - source.detach()` is exactly zero, so the forward value
// is bit-exact, unlike the common `source + (value - source).detach()`.
#include <torch/torch.h>

namespace tervit::quant {

inline torch::Tensor straight_through(const torch::Tensor& value, const torch::Tensor& gradient_source) {
  // Without a gradient to route (eval, no_grad) the two extra full-size ops would be pure cost.
  if (!torch::GradMode::is_enabled() || !gradient_source.requires_grad()) return value;
  return value + (gradient_source - gradient_source.detach());
}

}  // namespace tervit::quant
