#include "tervit/quant/activation_quant.h"

#include <cmath>

#include "tervit/quant/lsq.h"
#include "tervit/quant/straight_through.h"

namespace tervit::quant {

LsqActivationQuantizer::LsqActivationQuantizer(const torch::TensorOptions& options)
    : step_(torch::ones({}, options).requires_grad_()) {}

torch::Tensor LsqActivationQuantizer::quantize(const torch::Tensor& input) {
  if (!initialised_) {
    torch::NoGradGuard no_grad;
    step_.copy_(input.detach().abs().mean() * 2.0 / std::sqrt(static_cast<double>(kInt8Range.positive)));
    initialised_ = true;
  }
  return lsq_quantize(input, step_, kInt8Range, lsq_gradient_scale(input.numel(), kInt8Range));
}

torch::Tensor AbsmaxTokenQuantizer::quantize(const torch::Tensor& input) {
  torch::Tensor quantized;
  {
    torch::NoGradGuard no_grad;
    // The floor keeps an all-zero token finite (BitNet uses the same 1e-5).
    const auto scale = kInt8Range.positive / input.detach().abs().amax(-1, /*keepdim=*/true).clamp_min(1e-5);
    quantized = (input.detach() * scale).round_().clamp_(-kInt8Range.negative, kInt8Range.positive).div_(scale);
  }
  return straight_through(quantized, input);
}

}  // namespace tervit::quant
