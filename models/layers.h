#pragma once
// Building blocks shared by the DeiT and Swin families (timm's layers/): stochastic depth and the MLP.
#include <torch/torch.h>

#include "tervit/quant/quant_layers.h"

namespace tervit::models {

// Stochastic depth: in training, drops the whole residual branch per sample with probability p and
// rescales the kept ones by 1/(1-p); identity in eval.
class DropPathImpl : public torch::nn::Module {
 public:
  explicit DropPathImpl(double drop_prob = 0.0) : drop_prob_(drop_prob) {}
  torch::Tensor forward(const torch::Tensor& x);
  double drop_prob() const { return drop_prob_; }

 private:
  double drop_prob_;
};
TORCH_MODULE(DropPath);

struct MlpOptions {
  MlpOptions(int64_t in_features, int64_t hidden_features) : in_features_(in_features), hidden_features_(hidden_features) {}
  TORCH_ARG(int64_t, in_features);
  TORCH_ARG(int64_t, hidden_features);
  TORCH_ARG(double, drop) = 0.0;
};

// fc1 -> GELU (exact, erf) -> dropout -> fc2 -> dropout.
class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(const MlpOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  quant::QuantLinear fc1_ = nullptr;
  quant::QuantLinear fc2_ = nullptr;
  torch::nn::Dropout drop_ = nullptr;
};
TORCH_MODULE(Mlp);

// timm's trunc_normal_: normal(0, std) truncated to [low, high] (absolute bounds, as timm's), drawn by
// inverse CDF so no sample is rejected. LibTorch's C++ init has no truncated normal.
void trunc_normal_(torch::Tensor tensor, double std, double low = -2.0, double high = 2.0);

// timm's default init for transformer linears: weight ~ truncated normal (std 0.02, cut at +-2),
// bias zero. Applied to every QuantLinear of a freshly built model.
void init_linears_like_timm(torch::nn::Module& model);

// Multi-head softmax attention on (windows or batch, tokens, heads, head_dim)-shaped q, k, v already
// split into heads as (B, H, N, D); `bias` (broadcastable to B,H,N,N) is added to the scores if defined.
torch::Tensor multi_head_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                   const torch::Tensor& bias, torch::nn::Dropout& attn_drop);

}  // namespace tervit::models
