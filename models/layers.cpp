#include "models/layers.h"

#include <cmath>

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
  return drop_(fc2_(drop_(torch::gelu(fc1_(x)))));
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

torch::Tensor multi_head_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                   const torch::Tensor& bias, torch::nn::Dropout& attn_drop) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  auto scores = torch::matmul(q * scale, k.transpose(-2, -1));
  if (bias.defined()) scores = scores + bias;
  return torch::matmul(attn_drop(scores.softmax(-1)), v);
}

}  // namespace tervit::models
