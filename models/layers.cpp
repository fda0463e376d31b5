#include "models/layers.h"

#include <cmath>

#include "models/cpu_attention.h"
#include "models/cpu_gelu.h"
#include "tervit/core/error.h"
#include "tervit/libtorch/torch_features.h"

namespace tervit::models {

torch::Tensor DropPathImpl::forward(const torch::Tensor& x) {
  if (drop_prob_ == 0.0 || !is_training()) return x;
  const double keep_prob = 1.0 - drop_prob_;
  std::vector<int64_t> mask_shape(x.dim(), 1);
  mask_shape[0] = x.size(0);
  const auto mask = torch::empty(mask_shape, x.options()).bernoulli_(keep_prob);
  return x * mask / keep_prob;
}

MlpImpl::MlpImpl(const MlpOptions& options) {
  fc1_ = register_module("fc1", quant::QuantLinear(options.in_features(), options.hidden_features()));
  fc2_ = register_module("fc2", quant::QuantLinear(options.hidden_features(), options.in_features()));
  drop_ = register_module("drop", torch::nn::Dropout(options.drop()));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  return drop_(fc2_(drop_(exact_gelu(fc1_(x)))));
}

void trunc_normal_(torch::Tensor tensor, double std, double low, double high) {
  torch::NoGradGuard no_grad;
  const auto normal_cdf = [](double x) { return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))); };
  const double lower = normal_cdf(low / std), upper = normal_cdf(high / std);
  tensor.uniform_(2.0 * lower - 1.0, 2.0 * upper - 1.0).erfinv_().mul_(std * std::sqrt(2.0)).clamp_(low, high);
}

void init_linears_like_timm(torch::nn::Module& model) {
  if (quant::matrix_init_skipped()) return;
  torch::NoGradGuard no_grad;
  for (auto& module : model.modules(/*include_self=*/false)) {
    if (auto* linear = dynamic_cast<quant::QuantLinearImpl*>(module.get())) {
      trunc_normal_(linear->weight, 0.02);
      if (linear->bias.defined()) linear->bias.zero_();
    }
  }
}

namespace {
// What the CPU autograd layers take: float32 CPU tensors (an undefined optional input qualifies).
bool float_cpu(const torch::Tensor& t) { return !t.defined() || (t.is_cpu() && t.scalar_type() == torch::kFloat); }
}  // namespace

torch::Tensor exact_gelu(const torch::Tensor& x) { return float_cpu(x) ? cpu_gelu(x) : torch::gelu(x); }

torch::Tensor qkv_attention(const torch::Tensor& qkv, int64_t heads, const torch::Tensor& bias, torch::nn::Dropout& attn_drop,
                            int64_t queries) {
  const bool dropout = attn_drop->is_training() && attn_drop->options.p() > 0.0;
  if (!dropout && float_cpu(qkv) && float_cpu(bias)) return cpu_attention(qkv, heads, bias, queries);
  if (sdpa_available()) return sdpa_attention(qkv, heads, bias, attn_drop, queries);
  return matmul_attention(qkv, heads, bias, attn_drop, queries);
}

torch::Tensor matmul_attention(const torch::Tensor& qkv, int64_t heads, const torch::Tensor& bias, torch::nn::Dropout& attn_drop,
                               int64_t queries) {
  const int64_t windows = qkv.size(0), tokens = qkv.size(1), channels = qkv.size(2) / 3;
  const int64_t rows = queries > 0 ? queries : tokens;
  const auto split = qkv.reshape({windows, tokens, 3, heads, channels / heads}).permute({2, 0, 3, 1, 4});
  const double scale = 1.0 / std::sqrt(static_cast<double>(channels / heads));
  auto scores = torch::matmul(split[0].narrow(2, 0, rows) * scale, split[1].transpose(-2, -1));
  if (bias.defined()) {
    const int64_t groups = bias.size(0);
    scores = (scores.view({windows / groups, groups, heads, rows, tokens}) + bias).view({windows, heads, rows, tokens});
  }
  return torch::matmul(attn_drop(scores.softmax(-1)), split[2]).transpose(1, 2).reshape({windows, rows, channels});
}

bool sdpa_available() { return TERVIT_TORCH_HAS_SDPA; }

torch::Tensor sdpa_attention(const torch::Tensor& qkv, int64_t heads, const torch::Tensor& bias, torch::nn::Dropout& attn_drop,
                             int64_t queries) {
#if TERVIT_TORCH_HAS_SDPA
  const int64_t windows = qkv.size(0), tokens = qkv.size(1), channels = qkv.size(2) / 3;
  const int64_t rows = queries > 0 ? queries : tokens;
  const auto split = qkv.reshape({windows, tokens, 3, heads, channels / heads}).permute({2, 0, 3, 1, 4});
  std::optional<torch::Tensor> mask;
  if (bias.defined()) {
    // The kernels take one mask broadcast over the batch: a bias shared by groups of windows is laid out
    // per window (as timm does for Swin's shift mask); a single group broadcasts as it is.
    const int64_t groups = bias.size(0);
    mask = groups == 1 ? bias
                       : bias.unsqueeze(0).expand({windows / groups, groups, heads, rows, tokens}).reshape({windows, heads, rows, tokens});
  }
  const double dropout = attn_drop->is_training() ? attn_drop->options.p() : 0.0;
  const auto out = at::scaled_dot_product_attention(split[0].narrow(2, 0, rows), split[1], split[2], mask, dropout);
  return out.transpose(1, 2).reshape({windows, rows, channels});
#else
  (void)qkv, (void)heads, (void)bias, (void)attn_drop, (void)queries;
  throw Error("attention: scaled_dot_product_attention needs LibTorch 2.0 or later; this is " TORCH_VERSION);
#endif
}

}  // namespace tervit::models
