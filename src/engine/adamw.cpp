#include "tervit/engine/adamw.h"

#include <map>
#include <tuple>

#include "tervit/libtorch/torch_features.h"

namespace tervit::engine {

AdamW::AdamW(std::vector<torch::optim::OptimizerParamGroup> groups, torch::optim::AdamWOptions defaults, bool fused)
    : torch::optim::AdamW(std::move(groups), std::move(defaults)), fused_(fused && fused_available()) {
  for (const auto& group : param_groups())
    if (static_cast<const torch::optim::AdamWOptions&>(group.options()).amsgrad()) fused_ = false;
}

bool AdamW::fused_available() { return TERVIT_TORCH_HAS_FUSED_ADAMW; }

torch::Tensor AdamW::step(LossClosure closure) {
  if (!fused_) return torch::optim::AdamW::step(std::move(closure));
  torch::Tensor loss;
  if (closure) {
    torch::AutoGradMode enable_grad(true);
    loss = closure();
  }
  torch::NoGradGuard no_grad;
  for (auto& group : param_groups()) fused_group_step(group);
  return loss;
}

#if TERVIT_TORCH_HAS_FUSED_ADAMW
void AdamW::fused_group_step(torch::optim::OptimizerParamGroup& group) {
  const auto& options = static_cast<const torch::optim::AdamWOptions&>(group.options());
  // One kernel call per (device, dtype, step count): the kernel takes one list of each and reads each
  // parameter's step from its own tensor; parameters normally share one step count.
  struct Batch {
    std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs;
    std::vector<torch::optim::AdamWParamState*> states;
  };
  std::map<std::tuple<std::string, int, int64_t>, Batch> batches;
  for (auto& p : group.params()) {
    if (!p.grad().defined()) continue;
    auto& slot = state()[p.unsafeGetTensorImpl()];
    if (!slot) {
      auto fresh = std::make_unique<torch::optim::AdamWParamState>();
      fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
      fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
      slot = std::move(fresh);
    }
    auto& s = static_cast<torch::optim::AdamWParamState&>(*slot);
    auto& batch = batches[{p.device().str(), static_cast<int>(p.scalar_type()), s.step()}];
    batch.params.push_back(p);
    batch.grads.push_back(p.grad());
    batch.exp_avgs.push_back(s.exp_avg());
    batch.exp_avg_sqs.push_back(s.exp_avg_sq());
    batch.states.push_back(&s);
  }
  const auto [beta1, beta2] = options.betas();
  for (auto& [key, batch] : batches) {
    const int64_t step = std::get<2>(key) + 1;
    // As torch.optim.AdamW(fused=True): the step as a float32 scalar on the parameters' device, one per
    // parameter (here one tensor shared, since the kernel only reads it).
    const auto step_tensor = torch::full({}, static_cast<double>(step), batch.params[0].options().dtype(torch::kFloat));
    const std::vector<torch::Tensor> steps(batch.params.size(), step_tensor);
    at::_fused_adamw_(batch.params, batch.grads, batch.exp_avgs, batch.exp_avg_sqs, {}, steps, options.lr(), beta1, beta2,
                      options.weight_decay(), options.eps(), /*amsgrad=*/false, /*maximize=*/false);
    for (auto* s : batch.states) s->step(step);
  }
}
#else
void AdamW::fused_group_step(torch::optim::OptimizerParamGroup&) {}  // fused_ is never true here
#endif

}  // namespace tervit::engine
