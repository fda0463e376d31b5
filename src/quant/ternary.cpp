#include "tervit/quant/ternary.h"

#include "tervit/quant/straight_through.h"

#include <sstream>

namespace tervit::quant {

Ternarized ternarize(const torch::Tensor& weight, double delta, Granularity granularity) {
  torch::NoGradGuard no_grad;
  const auto groups = scale_groups(weight.detach(), granularity);
  const auto magnitude = groups.abs();
  const auto threshold = magnitude.mean(1, /*keepdim=*/true) * delta;
  const auto kept = magnitude > threshold;  // strictly: a weight exactly at Δ becomes 0
  const auto kept_count = kept.sum(1, /*keepdim=*/true).clamp_min(1).to(magnitude.scalar_type());
  return {threshold, groups.sign() * kept, (magnitude * kept).sum(1, /*keepdim=*/true) / kept_count};
}

TernaryQuantizer::TernaryQuantizer(const TernaryOptions& options, const torch::Tensor& latent_weight)
    : options_(options) {
  if (options_.learnable_alpha())
    learnable_alpha_ = quant::ternarize(latent_weight, options_.delta(), options_.granularity()).alpha.requires_grad_();
}

Ternarized TernaryQuantizer::ternarize(const torch::Tensor& weight) const {
  auto ternarized = quant::ternarize(weight, options_.delta(), options_.granularity());
  if (learnable_alpha_.defined()) ternarized.alpha = learnable_alpha_.detach();
  return ternarized;
}

IntegerWeight TernaryQuantizer::integer_weight(const torch::Tensor& weight) const {
  torch::NoGradGuard no_grad;
  const auto ternarized = ternarize(weight.detach());
  return {ternarized.codes.reshape(weight.sizes()), ternarized.alpha.reshape({-1}).expand({weight.size(0)}).contiguous()};
}

torch::Tensor TernaryQuantizer::quantize(const torch::Tensor& weight) {
  const auto ternarized = quant::ternarize(weight, options_.delta(), options_.granularity());
  // With learnable α the product stays in the graph: dL/dα_c = Σ_i dL/dWq[c,i]·T[c,i].
  const auto alpha = learnable_alpha_.defined() ? learnable_alpha_ : ternarized.alpha;
  return straight_through((alpha * ternarized.codes).view(weight.sizes()), weight);
}

std::string TernaryQuantizer::row_function() const {
  if (learnable_alpha_.defined() || options_.granularity() != Granularity::kChannel) return "";
  std::ostringstream id;
  id << "ternary, channel-wise, delta " << std::hexfloat << options_.delta();  // exact: 0.7 and 0.70000001 differ
  return id.str();
}

torch::Tensor TernaryQuantizer::quantize_rows(const torch::Tensor& rows) const {
  const auto ternarized = quant::ternarize(rows, options_.delta(), Granularity::kChannel);
  return ternarized.alpha * ternarized.codes;
}

int64_t TernaryQuantizer::scale_count(const torch::Tensor& weight) const {
  return quant::scale_count(weight, options_.granularity());
}

std::vector<torch::Tensor> TernaryQuantizer::parameters() const {
  if (!learnable_alpha_.defined()) return {};
  return {learnable_alpha_};
}

}  // namespace tervit::quant
