#pragma once
// AdamW parameter groups as DeiT and Swin build them: weight decay on matrices only; none on norms,
// biases (every parameter of one dimension or less), position embeddings, tokens and relative
// position bias tables.
#include <torch/torch.h>

#include <vector>

namespace tervit::engine {

bool skips_weight_decay(const std::string& name, const torch::Tensor& parameter);

// Two groups, {decayed, not decayed}, of the trainable parameters; either may be empty.
std::vector<torch::optim::OptimizerParamGroup> adamw_param_groups(torch::nn::Module& model, double weight_decay);

}  // namespace tervit::engine
