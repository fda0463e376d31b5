// 8-bit quantization: absmax weights, LSQ's learned step and its gradient, and activations.
#include <catch2/catch.hpp>

#include "tervit/quant/activation_quant.h"
#include "tervit/quant/int8.h"
#include "tervit/quant/lsq.h"

using namespace tervit::quant;

TEST_CASE("int8 weights round-trip within half a step of their channel", "[quant]") {
  torch::manual_seed(4);
  auto weight = torch::randn({8, 50}) * torch::logspace(-3, 2, 8).unsqueeze(1);
  weight[3].zero_();  // an all-zero channel stays zero
  Int8Quantizer quantizer(Int8Options(), weight);
  const auto quantized = quantizer.quantize(weight);
  const auto step = std::get<0>(weight.abs().max(1, true)) / 127;
  CHECK(((quantized - weight).abs() <= step / 2 * (1 + 1e-5)).all().item<bool>());
  CHECK(quantized[3].eq(0).all().item<bool>());
  // On the grid: integer multiples of the step, at most 127 of them, and each channel's largest
  // magnitude exactly representable.
  const auto levels = quantized / step.masked_fill(step == 0, 1);
  CHECK(torch::allclose(levels, levels.round(), 0, 1e-3));
  CHECK((levels.abs() <= 127.001).all().item<bool>());
  CHECK(torch::allclose(std::get<0>(quantized.abs().max(1)), std::get<0>(weight.abs().max(1))));
  CHECK(quantizer.scale_count(weight) == 8);
  CHECK(Int8Quantizer(Int8Options().granularity(Granularity::kLayer), weight).scale_count(weight) == 1);
}

TEST_CASE("int8 gradients reach the latent weights straight through", "[quant]") {
  torch::manual_seed(5);
  const auto weight = torch::randn({6, 10}).requires_grad_();
  const auto upstream = torch::randn({6, 10});
  Int8Quantizer quantizer(Int8Options(), weight);
  (quantizer.quantize(weight) * upstream).sum().backward();
  CHECK(torch::equal(weight.grad(), upstream));
}

TEST_CASE("The LSQ int8 quantizer starts where the absmax one is", "[quant]") {
  torch::manual_seed(6);
  const auto weight = torch::randn({6, 10, 2, 2});
  Int8Quantizer lsq(Int8Options().lsq(true), weight);
  REQUIRE(lsq.parameters().size() == 1);
  CHECK(lsq.parameters()[0].requires_grad());
  CHECK(torch::allclose(lsq.quantize(weight), Int8Quantizer(Int8Options(), weight).quantize(weight), 1e-5, 1e-6));
}

TEST_CASE("LSQ's step and input gradients follow Esser et al.'s formulas", "[quant]") {
  // Range [-4, 3] so that values fall below, inside and above it.
  const LsqRange range{4, 3};
  const auto x = torch::tensor({-2.9, -1.3, -0.2, 0.26, 0.7, 1.1, 2.5}, torch::kDouble).requires_grad_();
  const auto step = torch::tensor(0.5, torch::kDouble).requires_grad_();
  const auto upstream = torch::tensor({0.3, -1.0, 2.0, 0.5, -0.7, 1.5, 0.9}, torch::kDouble);
  const double g = lsq_gradient_scale(x.numel(), range);
  CHECK(g == Approx(1 / std::sqrt(7.0 * 3)));

  const auto q = lsq_quantize(x, step, range, g);
  // x/s = -5.8 (below), -2.6, -0.4, 0.52, 1.4, 2.2, 5.0 (above)
  CHECK(torch::allclose(q.detach(), torch::tensor({-2.0, -1.5, 0.0, 0.5, 0.5, 1.0, 1.5}, torch::kDouble)));
  (q * upstream).sum().backward();

  const std::vector<double> v{-5.8, -2.6, -0.4, 0.52, 1.4, 2.2, 5.0};
  double expected_step_grad = 0;
  std::vector<double> expected_x_grad;
  for (size_t i = 0; i < v.size(); ++i) {
    const bool inside = v[i] >= -4 && v[i] <= 3;
    const double dq_ds = inside ? -v[i] + std::nearbyint(v[i]) : (v[i] < -4 ? -4.0 : 3.0);
    expected_step_grad += upstream[i].item<double>() * dq_ds;
    expected_x_grad.push_back(inside ? upstream[i].item<double>() : 0.0);
  }
  CHECK(step.grad().item<double>() == Approx(g * expected_step_grad).epsilon(1e-12));
  CHECK(torch::allclose(x.grad(), torch::tensor(expected_x_grad, torch::kDouble)));
}

TEST_CASE("Per-token absmax activations land on each token's 8-bit grid", "[quant]") {
  torch::manual_seed(7);
  auto input = (torch::randn({2, 5, 16}) * torch::rand({2, 5, 1}) * 4).requires_grad_();
  AbsmaxTokenQuantizer quantizer;
  const auto quantized = quantizer.quantize(input);
  const auto token_max = std::get<0>(input.detach().abs().max(-1, true));
  const auto levels = quantized.detach() * 127 / token_max;
  CHECK(torch::allclose(levels, levels.round(), 0, 1e-3));
  CHECK(((quantized.detach() - input.detach()).abs() <= token_max / 127 / 2 * (1 + 1e-5)).all().item<bool>());
  const auto upstream = torch::randn_like(input);
  (quantized * upstream).sum().backward();
  CHECK(torch::equal(input.grad(), upstream));
  CHECK(quantizer.quantize(torch::zeros({3, 4})).eq(0).all().item<bool>());  // an all-zero token stays finite
}

TEST_CASE("The LSQ activation step starts at 2·mean|x|/sqrt(127) and learns", "[quant]") {
  torch::manual_seed(8);
  const auto input = torch::randn({4, 10, 8}).requires_grad_();
  LsqActivationQuantizer quantizer;
  const auto step = quantizer.parameters().at(0);
  const auto quantized = quantizer.quantize(input);
  CHECK(step.item<float>() == Approx(2 * input.detach().abs().mean().item<float>() / std::sqrt(127.0f)));
  const auto levels = quantized.detach() / step.detach();
  CHECK(torch::allclose(levels, levels.round(), 0, 1e-3));
  quantized.pow(2).sum().backward();
  REQUIRE(step.grad().defined());
  CHECK(step.grad().item<float>() != 0);
  // Later batches keep the learned step.
  quantizer.quantize(input * 100);
  CHECK(step.item<float>() == Approx(2 * input.detach().abs().mean().item<float>() / std::sqrt(127.0f)));
}

TEST_CASE("int8 integer weights are the codes and steps forward uses, per channel or per matrix, plain or LSQ", "[quant]") {
  torch::manual_seed(12);
  const auto weight = torch::randn({6, 3, 2, 2}) * torch::logspace(-2, 1, 6).view({6, 1, 1, 1});
  for (const auto& options : {Int8Options(), Int8Options().granularity(Granularity::kLayer), Int8Options().lsq(true)}) {
    Int8Quantizer quantizer(options, weight);
    const auto integer = quantizer.integer_weight(weight);
    REQUIRE(integer.codes.sizes() == weight.sizes());
    REQUIRE(integer.scale.sizes() == torch::IntArrayRef{6});
    CHECK(integer.codes.eq(integer.codes.round()).all().item<bool>());
    CHECK(integer.codes.abs().max().item<float>() == 127.0f);
    CHECK(torch::allclose(integer.codes * integer.scale.view({6, 1, 1, 1}), quantizer.quantize(weight).detach(), 1e-6, 1e-7));
  }
}
