#pragma once
// Learned step size quantization (LSQ, Esser et al. 2020): q = clamp(round(x/s), -Qn, Qp)·s with a
// learnable step s. Gradients, as the paper derives them:
//   dq/dx = 1 inside the range, 0 outside (round is passed straight through, clamp is not);
//   dq/ds = -x/s + round(x/s) inside the range, -Qn below it, Qp above it;
// and the step's gradient is scaled by g = 1/sqrt(N·Qp), N the number of values sharing the step,
// to keep its update in proportion with the quantized values'.
#include <torch/torch.h>

namespace tervit::quant {

struct LsqRange {
  int64_t negative;  // Qn: the smallest code is -Qn
  int64_t positive;  // Qp: the largest code
};

// The range tervit uses for 8-bit weights and activations: symmetric, ±127 (zero stays exact).
constexpr LsqRange kInt8Range{127, 127};

// LSQ's gradient scale g = 1/sqrt(values_per_step · Qp).
double lsq_gradient_scale(int64_t values_per_step, const LsqRange& range);

// Fake-quantizes `x` with `step` (broadcastable to x, positive), differentiable in both as above.
torch::Tensor lsq_quantize(const torch::Tensor& x, const torch::Tensor& step, const LsqRange& range, double gradient_scale);

}  // namespace tervit::quant
