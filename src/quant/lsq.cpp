#include "tervit/quant/lsq.h"

#include <cmath>

#include "tervit/quant/straight_through.h"

namespace tervit::quant {

double lsq_gradient_scale(int64_t values_per_step, const LsqRange& range) {
  return 1.0 / std::sqrt(static_cast<double>(values_per_step) * static_cast<double>(range.positive));
}

torch::Tensor lsq_quantize(const torch::Tensor& x, const torch::Tensor& step, const LsqRange& range, double gradient_scale) {
  // Forward value: the step itself; backward: the step's gradient times g.
  const auto scaled_step = straight_through(step.detach(), step * gradient_scale);
  const auto clamped = (x / scaled_step).clamp(-static_cast<double>(range.negative), static_cast<double>(range.positive));
  return straight_through(clamped.detach().round(), clamped) * scaled_step;
}

}  // namespace tervit::quant
