#include "tervit/quant/int8.h"

#include "tervit/quant/lsq.h"
#include "tervit/quant/straight_through.h"

namespace tervit::quant {

namespace {
// s·clamp(round(W/s), -127, 127) with the absmax step, on the grouped weight; no gradient.
torch::Tensor absmax_fake_quantize(const torch::Tensor& groups) {
  torch::NoGradGuard no_grad;
  const auto step = int8_absmax_step(groups, Granularity::kChannel);  // rows are already the groups
  return (groups.detach() / step).round_().clamp_(-kInt8Range.negative, kInt8Range.positive).mul_(step);
}
}  // namespace

torch::Tensor int8_absmax_step(const torch::Tensor& weight, Granularity granularity) {
  torch::NoGradGuard no_grad;
  const auto step = std::get<0>(scale_groups(weight.detach(), granularity).abs().max(1, /*keepdim=*/true)) / kInt8Range.positive;
  return step.masked_fill(step == 0, 1.0);
}

Int8Quantizer::Int8Quantizer(const Int8Options& options, const torch::Tensor& latent_weight) : options_(options) {
  if (options_.lsq()) learnable_step_ = int8_absmax_step(latent_weight, options_.granularity()).requires_grad_();
}

torch::Tensor Int8Quantizer::quantize(const torch::Tensor& weight) {
  const auto groups = scale_groups(weight, options_.granularity());
  if (learnable_step_.defined())
    return lsq_quantize(groups, learnable_step_, kInt8Range, lsq_gradient_scale(groups.size(1), kInt8Range)).view(weight.sizes());
  return straight_through(absmax_fake_quantize(groups).view(weight.sizes()), weight);
}

std::string Int8Quantizer::row_function() const {
  return learnable_step_.defined() || options_.granularity() != Granularity::kChannel ? "" : "int8, channel-wise absmax";
}

torch::Tensor Int8Quantizer::quantize_rows(const torch::Tensor& rows) const { return absmax_fake_quantize(rows); }

IntegerWeight Int8Quantizer::integer_weight(const torch::Tensor& weight) const {
  torch::NoGradGuard no_grad;
  const auto step = learnable_step_.defined() ? learnable_step_.detach() : int8_absmax_step(weight, options_.granularity());
  const auto codes = (scale_groups(weight.detach(), options_.granularity()) / step)
                         .round_()
                         .clamp_(-kInt8Range.negative, kInt8Range.positive);
  return {codes.view(weight.sizes()), step.reshape({-1}).expand({weight.size(0)}).contiguous()};
}

int64_t Int8Quantizer::scale_count(const torch::Tensor& weight) const {
  return quant::scale_count(weight, options_.granularity());
}

std::vector<torch::Tensor> Int8Quantizer::parameters() const {
  if (!learnable_step_.defined()) return {};
  return {learnable_step_};
}

}  // namespace tervit::quant
