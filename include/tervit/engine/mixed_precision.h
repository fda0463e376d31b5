#pragma once
// Automatic mixed precision on CUDA: forward passes under autocast (bf16 or fp16), and for fp16 a
// dynamic loss scale (GradScaler's rule: halve on a non-finite gradient and skip the step, double after
// 2000 good steps). On CPU, AMP is off: the run says so and trains in fp32. LibTorch's autocast API
// changed in 2.4; the difference is kept inside mixed_precision.cpp.
#include <torch/torch.h>

#include <string>
#include <vector>
#include "tervit/core/name_table.h"

namespace tervit::engine {

enum class AmpMode { kNone, kBf16, kFp16 };

const NameTable<AmpMode>& amp_mode_names();

// Enables autocast for its lifetime when `mode` is not kNone and `device` is CUDA.
class AutocastScope {
 public:
  AutocastScope(AmpMode mode, const torch::Device& device);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
};

class LossScaler {
 public:
  explicit LossScaler(bool enabled, double scale = 65536.0) : enabled_(enabled), scale_(enabled ? scale : 1.0) {}
  bool enabled() const { return enabled_; }
  double scale() const { return scale_; }
  torch::Tensor scale_loss(const torch::Tensor& loss) const { return enabled_ ? loss * scale_ : loss; }
  // Divides the gradients by the scale; false (and the scale halved) when one is not finite, in which
  // case the caller skips the optimizer step.
  bool unscale(const std::vector<torch::Tensor>& parameters);
  void restore(double scale) { scale_ = enabled_ ? scale : 1.0; }

 private:
  bool enabled_;
  double scale_;
  int64_t good_steps_ = 0;
};

}  // namespace tervit::engine
