#include "tervit/engine/param_groups.h"
#include "tervit/core/strings.h"

namespace tervit::engine {

bool skips_weight_decay(const std::string& name, const torch::Tensor& parameter) {
  if (parameter.dim() <= 1) return true;
  for (const char* leaf : {"pos_embed", "cls_token", "dist_token", "relative_position_bias_table"})
    if (name == leaf || ends_with(name, std::string(".") + leaf)) return true;
  return false;
}

std::vector<torch::optim::OptimizerParamGroup> adamw_param_groups(torch::nn::Module& model, double weight_decay) {
  std::vector<torch::Tensor> decayed, not_decayed;
  for (const auto& item : model.named_parameters()) {
    if (!item.value().requires_grad()) continue;
    (skips_weight_decay(item.key(), item.value()) ? not_decayed : decayed).push_back(item.value());
  }
  auto options = [](double decay) {
    auto o = std::make_unique<torch::optim::AdamWOptions>();
    o->weight_decay(decay).eps(1e-8);
    return o;
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decayed, options(weight_decay));
  groups.emplace_back(not_decayed, options(0.0));
  return groups;
}

}  // namespace tervit::engine
