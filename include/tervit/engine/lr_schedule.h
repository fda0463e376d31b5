#pragma once
// The learning rate of one stage, per optimizer step: linear warmup from warmup_lr to the peak, then
// cosine decay to min_lr at the stage's last step (timm's CosineLRScheduler with t_in_epochs=False).
#include <cstdint>

namespace tervit::engine {

struct LrScheduleOptions {
  double peak_lr = 5e-4;
  double min_lr = 1e-5;
  double warmup_lr = 1e-6;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
};

// Peak lr as DeiT and Swin scale it: base lr x global batch / reference batch (512 in both);
// reference_batch 0 keeps base_lr.
double scaled_lr(double base_lr, int64_t global_batch, int64_t reference_batch = 512);

double learning_rate(const LrScheduleOptions& options, int64_t step);

}  // namespace tervit::engine
