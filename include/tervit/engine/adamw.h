#pragma once
// AdamW with torch::optim::AdamW's options, state and checkpoints, whose step runs LibTorch's fused
// kernel (at::_fused_adamw_: each parameter read and written once, a group's parameters in one call
// rather than some ten kernels per parameter) where this LibTorch has it; elsewhere, or when asked,
// torch::optim::AdamW's own step. Both compute the same update to float rounding.
#include <torch/torch.h>

#include <vector>

namespace tervit::engine {

class AdamW : public torch::optim::AdamW {
 public:
  // fused: use the fused kernel when fused_available() (amsgrad groups always take the plain step).
  AdamW(std::vector<torch::optim::OptimizerParamGroup> groups, torch::optim::AdamWOptions defaults, bool fused);

  torch::Tensor step(LossClosure closure = nullptr) override;

  // Whether steps run the fused kernel.
  bool fused() const { return fused_; }
  // Whether this LibTorch has the fused kernel for both the CPU and CUDA (2.4 and later).
  static bool fused_available();

 private:
  void fused_group_step(torch::optim::OptimizerParamGroup& group);

  bool fused_;
};

}  // namespace tervit::engine
