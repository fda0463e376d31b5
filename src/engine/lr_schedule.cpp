#include "tervit/engine/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace tervit::engine {

double scaled_lr(double base_lr, int64_t global_batch, int64_t reference_batch) {
  return reference_batch > 0 ? base_lr * static_cast<double>(global_batch) / static_cast<double>(reference_batch) : base_lr;
}

double learning_rate(const LrScheduleOptions& o, int64_t step) {
  if (step < o.warmup_steps)
    return o.warmup_lr + (o.peak_lr - o.warmup_lr) * static_cast<double>(step) / static_cast<double>(o.warmup_steps);
  const int64_t decay_steps = std::max<int64_t>(1, o.total_steps - o.warmup_steps);
  const double progress = std::min(1.0, static_cast<double>(step - o.warmup_steps) / static_cast<double>(decay_steps));
  return o.min_lr + 0.5 * (o.peak_lr - o.min_lr) * (1.0 + std::cos(M_PI * progress));
}

}  // namespace tervit::engine
