#include "tervit/engine/model_ema.h"

#include "tervit/core/error.h"

namespace tervit::engine {

namespace {

// Parameters and floating buffers by name, as live handles into the model.
TensorMap averaged_tensors(torch::nn::Module& model) {
  TensorMap tensors;
  for (const auto& p : model.named_parameters()) tensors[p.key()] = p.value();
  for (const auto& b : model.named_buffers())
    if (b.value().is_floating_point()) tensors[b.key()] = b.value();
  return tensors;
}

void copy_into(torch::nn::Module& model, const TensorMap& values) {
  torch::NoGradGuard no_grad;
  for (auto& [name, tensor] : averaged_tensors(model)) tensor.copy_(values.at(name));
}

}  // namespace

ModelEma::ModelEma(torch::nn::Module& model, double decay) : decay_(decay) {
  torch::NoGradGuard no_grad;
  for (const auto& [name, tensor] : averaged_tensors(model)) weights_[name] = tensor.detach().clone();
}

void ModelEma::update(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  for (const auto& [name, tensor] : averaged_tensors(model)) weights_.at(name).mul_(decay_).add_(tensor.detach(), 1.0 - decay_);
}

void ModelEma::load(const TensorMap& weights, const std::string& source) {
  if (weights.size() != weights_.size()) throw Error(source + ": EMA weights do not match the model");
  torch::NoGradGuard no_grad;
  for (auto& [name, tensor] : weights_) {
    const auto found = weights.find(name);
    if (found == weights.end() || found->second.sizes() != tensor.sizes())
      throw Error(source + ": EMA weights lack '" + name + "' or differ in shape");
    tensor.copy_(found->second);
  }
}

ModelEma::Swap::Swap(torch::nn::Module& model, const ModelEma& ema) : model_(model) {
  for (const auto& [name, tensor] : averaged_tensors(model)) saved_[name] = tensor.detach().clone();
  copy_into(model, ema.weights());
}

ModelEma::Swap::~Swap() { copy_into(model_, saved_); }

}  // namespace tervit::engine
