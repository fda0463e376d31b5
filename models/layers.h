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

// GELU, exact (erf) form: cpu_gelu for float32 CPU tensors, torch::gelu for the rest.
torch::Tensor exact_gelu(const torch::Tensor& x);

// Multi-head softmax attention from a qkv linear's output (W, N, 3 C; timm's layout: [q | k | v], each
// split into `heads` heads) to (W, queries, C), the heads side by side. Only the first `queries` tokens
// attend (all N when 0). `bias` is undefined or (G, heads, queries, N), added to the scores of window w
// from bias[w % G]. Float32 CPU tensors without attention dropout take the fused cpu_attention (on the
// CPU it was faster than LibTorch 2.x's scaled_dot_product_attention: tools/bench/bench_attention.cpp);
// everything else (CUDA, autocast dtypes, dropout) takes sdpa_attention on LibTorch 2.x, as timm does,
// and matmul_attention on 1.13.
torch::Tensor qkv_attention(const torch::Tensor& qkv, int64_t heads, const torch::Tensor& bias, torch::nn::Dropout& attn_drop,
                            int64_t queries = 0);
// The same from LibTorch's matmul and softmax, as timm writes it without fused attention.
torch::Tensor matmul_attention(const torch::Tensor& qkv, int64_t heads, const torch::Tensor& bias, torch::nn::Dropout& attn_drop,
                               int64_t queries = 0);
// The same through at::scaled_dot_product_attention (LibTorch 2.x: flash and memory-efficient kernels on
// CUDA), attention dropout inside it; tervit::Error on a LibTorch without it (see sdpa_available).
torch::Tensor sdpa_attention(const torch::Tensor& qkv, int64_t heads, const torch::Tensor& bias, torch::nn::Dropout& attn_drop,
                             int64_t queries = 0);
bool sdpa_available();

}  // namespace tervit::models
