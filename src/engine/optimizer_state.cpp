#include "tervit/engine/optimizer_state.h"

#include <set>
#include <sstream>
#include <type_traits>

#include "tervit/core/error.h"

namespace tervit::engine {

namespace {

// LibTorch keys optimizer state by the parameter's TensorImpl: in 1.13 as the pointer printed to a
// string, in 2.x as the pointer itself. The map's key type tells which.
template <typename StateMap>
typename StateMap::key_type state_key(const StateMap&, const torch::Tensor& parameter) {
  if constexpr (std::is_same_v<typename StateMap::key_type, std::string>) {
    std::ostringstream key;
    key << static_cast<const void*>(parameter.unsafeGetTensorImpl());
    return key.str();
  } else {
    return parameter.unsafeGetTensorImpl();
  }
}

std::string prefix(size_t group, size_t param) {
  return "group" + std::to_string(group) + ".param" + std::to_string(param) + ".";
}

}  // namespace

TensorMap adamw_state(torch::optim::AdamW& optimizer) {
  TensorMap tensors;
  const auto& groups = optimizer.param_groups();
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto& params = groups[g].params();
    for (size_t i = 0; i < params.size(); ++i) {
      const auto found = optimizer.state().find(state_key(optimizer.state(), params[i]));
      if (found == optimizer.state().end()) continue;
      const auto& state = static_cast<const torch::optim::AdamWParamState&>(*found->second);
      const auto name = prefix(g, i);
      tensors[name + "step"] = torch::tensor(static_cast<int64_t>(state.step()), torch::kInt64);
      tensors[name + "exp_avg"] = state.exp_avg().detach().cpu();
      tensors[name + "exp_avg_sq"] = state.exp_avg_sq().detach().cpu();
    }
  }
  return tensors;
}

void load_adamw_state(torch::optim::AdamW& optimizer, const TensorMap& tensors, const std::string& source) {
  std::set<std::string> used;
  const auto& groups = optimizer.param_groups();
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto& params = groups[g].params();
    for (size_t i = 0; i < params.size(); ++i) {
      const auto name = prefix(g, i);
      const auto step = tensors.find(name + "step");
      const auto exp_avg = tensors.find(name + "exp_avg");
      const auto exp_avg_sq = tensors.find(name + "exp_avg_sq");
      const int present = (step != tensors.end()) + (exp_avg != tensors.end()) + (exp_avg_sq != tensors.end());
      if (present == 0) continue;
      if (present != 3) throw Error(source + ": optimizer state of " + name + " is incomplete");
      for (const auto& moment : {exp_avg->second, exp_avg_sq->second})
        if (moment.sizes() != params[i].sizes() || moment.scalar_type() != params[i].scalar_type())
          throw Error(source + ": optimizer state " + name + " does not match its parameter's shape or type");
      if (step->second.numel() != 1 || step->second.scalar_type() != torch::kInt64)
        throw Error(source + ": optimizer state " + name + "step must be one int64");
      auto state = std::make_unique<torch::optim::AdamWParamState>();
      state->step(step->second.item<int64_t>());
      state->exp_avg(exp_avg->second.to(params[i].device()).clone());
      state->exp_avg_sq(exp_avg_sq->second.to(params[i].device()).clone());
      optimizer.state()[state_key(optimizer.state(), params[i])] = std::move(state);
      used.insert({name + "step", name + "exp_avg", name + "exp_avg_sq"});
    }
  }
  for (const auto& entry : tensors)
    if (used.count(entry.first) == 0)
      throw Error(source + ": optimizer state '" + entry.first + "' belongs to no parameter of this model");
}

}  // namespace tervit::engine
