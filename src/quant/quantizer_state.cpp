#include "tervit/quant/quantizer_state.h"

#include "tervit/core/error.h"
#include "tervit/quant/quant_layers.h"

namespace tervit::quant {

namespace {

// Calls visit(name, tensor) for every learnable quantizer tensor, in module order.
template <typename Visit>
void for_each_quantizer_tensor(torch::nn::Module& model, const Visit& visit) {
  for (const auto& [layer_name, layer] : quantizable_layers(model)) {
    if (const auto& weight = layer->weight_quantizer()) {
      const auto tensors = weight->parameters();
      for (size_t i = 0; i < tensors.size(); ++i) visit(layer_name + ".weight_quantizer." + std::to_string(i), tensors[i]);
    }
    if (const auto& input = layer->input_quantizer()) {
      const auto tensors = input->parameters();
      for (size_t i = 0; i < tensors.size(); ++i) visit(layer_name + ".input_quantizer." + std::to_string(i), tensors[i]);
    }
  }
}

}  // namespace

TensorMap quantizer_state(torch::nn::Module& model) {
  TensorMap state;
  for_each_quantizer_tensor(model, [&](const std::string& name, const torch::Tensor& t) { state[name] = t.detach().cpu(); });
  return state;
}

void load_quantizer_state(torch::nn::Module& model, const TensorMap& state, const std::string& source) {
  torch::NoGradGuard no_grad;
  size_t used = 0;
  for_each_quantizer_tensor(model, [&](const std::string& name, torch::Tensor t) {
    const auto found = state.find(name);
    if (found == state.end()) throw Error(source + ": quantizer state has no '" + name + "'");
    if (found->second.sizes() != t.sizes())
      throw Error(source + ": quantizer state '" + name + "' has another shape than the model's quantizer");
    t.copy_(found->second);
    ++used;
  });
  if (used != state.size())
    throw Error(source + ": quantizer state holds tensors this model's quantizers do not have (another quantizer config?)");
  for (const auto& [layer_name, layer] : quantizable_layers(model))
    if (const auto& input = layer->input_quantizer()) input->mark_restored();
}

}  // namespace tervit::quant
