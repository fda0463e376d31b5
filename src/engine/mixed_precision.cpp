#include "tervit/engine/mixed_precision.h"

#include <ATen/autocast_mode.h>

#include "tervit/core/error.h"
#include "tervit/libtorch/torch_features.h"

namespace tervit::engine {

namespace {

void set_cuda_autocast(bool enabled, at::ScalarType dtype) {
#if TERVIT_TORCH_HAS_DEVICE_AUTOCAST
  at::autocast::set_autocast_dtype(at::kCUDA, dtype);
  at::autocast::set_autocast_enabled(at::kCUDA, enabled);
#else
  at::autocast::set_autocast_gpu_dtype(dtype);
  at::autocast::set_enabled(enabled);
#endif
}

}  // namespace

const NameTable<AmpMode>& amp_mode_names() {
  static const NameTable<AmpMode> table{{"none", AmpMode::kNone}, {"bf16", AmpMode::kBf16}, {"fp16", AmpMode::kFp16}};
  return table;
}

AutocastScope::AutocastScope(AmpMode mode, const torch::Device& device) {
  if (mode == AmpMode::kNone || !device.is_cuda()) return;
  set_cuda_autocast(true, mode == AmpMode::kBf16 ? at::kBFloat16 : at::kHalf);
  active_ = true;
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  set_cuda_autocast(false, at::kHalf);
  at::autocast::clear_cache();
}

bool LossScaler::unscale(const std::vector<torch::Tensor>& parameters) {
  if (!enabled_) return true;
  torch::NoGradGuard no_grad;
  // One flag per gradient, read once: a read per gradient would wait for the GPU each time.
  std::vector<torch::Tensor> finite_flags;
  for (const auto& p : parameters) {
    if (!p.grad().defined()) continue;
    p.mutable_grad().div_(scale_);
    finite_flags.push_back(p.grad().isfinite().all());
  }
  const bool finite = finite_flags.empty() || torch::stack(finite_flags).all().item<bool>();
  if (!finite) {
    scale_ /= 2;
    good_steps_ = 0;
    return false;
  }
  if (++good_steps_ % 2000 == 0) scale_ *= 2;
  return true;
}

}  // namespace tervit::engine
