// Ternary weights: the formulas of method.md on hand-computed matrices, straight-through gradients,
// and the true gradient of a learnable α.
#include <catch2/catch.hpp>

#include "tervit/quant/ternary.h"

using namespace tervit::quant;

namespace {

torch::Tensor matrix(std::vector<std::vector<float>> rows) {
  std::vector<torch::Tensor> tensors;
  for (auto& row : rows) tensors.push_back(torch::tensor(row));
  return torch::stack(tensors);
}

// Rows chosen so that δ = 0.5 gives exact float thresholds. Per row: mean|W|, Δ = 0.5·mean, T, α:
//   [1, 2, 3, 2]     mean 2, Δ 1: the 1 sits exactly at Δ -> 0; T [0 1 1 1],  α (2+3+2)/3 = 7/3
//   [0, 0, 0, 0]     all zero: Δ 0, nothing passes, α 0
//   [0, 0, -8, 0]    one non-zero: mean 2, Δ 1, T [0 0 -1 0], α 8
//   [-1, -2, -4, -1] negative only: mean 2, Δ 1, T [0 -1 -1 0], α 3
torch::Tensor hand_matrix() { return matrix({{1, 2, 3, 2}, {0, 0, 0, 0}, {0, 0, -8, 0}, {-1, -2, -4, -1}}); }

// Value equality (so that -0 equals 0), shapes included.
bool same_values(const torch::Tensor& a, const torch::Tensor& b) { return a.sizes() == b.sizes() && (a == b).all().item<bool>(); }

}  // namespace

TEST_CASE("Channel-wise ternarization gives the hand-computed thresholds, codes and scales", "[quant]") {
  const auto t = ternarize(hand_matrix(), 0.5, Granularity::kChannel);
  CHECK(same_values(t.threshold, matrix({{1}, {0}, {1}, {1}})));
  CHECK(same_values(t.codes, matrix({{0, 1, 1, 1}, {0, 0, 0, 0}, {0, 0, -1, 0}, {0, -1, -1, 0}})));
  CHECK(same_values(t.alpha, matrix({{7.0f / 3}, {0}, {8}, {3}})));
}

TEST_CASE("Layer-wise ternarization uses one threshold and scale for the whole matrix", "[quant]") {
  // mean|W| over all 16 entries = 24/16 = 1.5, Δ = 0.75; kept: 1,2,3,2, -8, -1,-2,-4,-1 (9 weights
  // summing to 24 in magnitude), α = 24/9. Unlike channel-wise, the 1s now pass and share one α.
  const auto t = ternarize(hand_matrix(), 0.5, Granularity::kLayer);
  CHECK(same_values(t.threshold, matrix({{0.75f}})));
  CHECK(same_values(t.codes, matrix({{1, 1, 1, 1, 0, 0, 0, 0, 0, 0, -1, 0, -1, -1, -1, -1}})));
  CHECK(t.alpha.item<float>() == Approx(24.0 / 9).epsilon(1e-6));

  TernaryQuantizer layer_wise(TernaryOptions().delta(0.5).granularity(Granularity::kLayer), hand_matrix());
  const float a = 24.0f / 9;
  CHECK(torch::allclose(layer_wise.quantize(hand_matrix()), matrix({{a, a, a, a}, {0, 0, 0, 0}, {0, 0, -a, 0}, {-a, -a, -a, -a}})));
}

TEST_CASE("The ternary quantizer outputs α_c·T per channel, for linear and conv weights", "[quant]") {
  TernaryQuantizer quantizer(TernaryOptions().delta(0.5), hand_matrix());
  const float a = 7.0f / 3;
  CHECK(same_values(quantizer.quantize(hand_matrix()), matrix({{0, a, a, a}, {0, 0, 0, 0}, {0, 0, -8, 0}, {0, -3, -3, 0}})));
  CHECK(quantizer.scale_count(hand_matrix()) == 4);

  // A conv weight C_out x C_in x k x k is ternarized as its C_out x (C_in·k·k) matrix.
  const auto conv = hand_matrix().view({4, 1, 2, 2});
  CHECK(same_values(quantizer.quantize(conv), quantizer.quantize(hand_matrix()).view({4, 1, 2, 2})));
}

TEST_CASE("Channels are ternarized independently of each other", "[quant]") {
  torch::manual_seed(0);
  const auto weight = torch::randn({6, 20});
  auto changed = weight.clone();
  changed[0] = changed[0] * 10 + 3;  // row 0 only
  const auto before = ternarize(weight, 0.7, Granularity::kChannel);
  const auto after = ternarize(changed, 0.7, Granularity::kChannel);
  using torch::indexing::Slice;
  CHECK(same_values(before.codes.index({Slice(1)}), after.codes.index({Slice(1)})));
  CHECK(same_values(before.alpha.index({Slice(1)}), after.alpha.index({Slice(1)})));
  CHECK_FALSE(same_values(before.alpha[0], after.alpha[0]));
}

TEST_CASE("Each ternary channel takes exactly the values -α_c, 0, α_c, in eval and in training", "[quant]") {
  torch::manual_seed(1);
  const auto weight = (torch::randn({16, 64}) * torch::rand({16, 1}) * 3).requires_grad_();
  TernaryQuantizer quantizer(TernaryOptions(), weight);  // δ = 0.7
  const auto alpha = quantizer.ternarize(weight).alpha;
  for (const bool grad : {false, true}) {
    CAPTURE(grad);
    torch::AutoGradMode mode(grad);
    const auto quantized = quantizer.quantize(weight);
    CHECK(quantized.requires_grad() == grad);
    const auto allowed = (quantized == alpha) | (quantized == 0) | (quantized == -alpha);
    CHECK(allowed.all().item<bool>());
    // Both signs and zero occur in every channel of a Gaussian 64-wide row.
    CHECK(((quantized == alpha).any(1) & (quantized == -alpha).any(1) & (quantized == 0).any(1)).all().item<bool>());
  }
}

TEST_CASE("Ternary gradients reach the latent weights straight through", "[quant]") {
  torch::manual_seed(2);
  const auto weight = torch::randn({5, 7}).requires_grad_();
  const auto upstream = torch::randn({5, 7});
  const auto learnable = GENERATE(false, true);
  CAPTURE(learnable);
  TernaryQuantizer quantizer(TernaryOptions().learnable_alpha(learnable), weight);
  (quantizer.quantize(weight) * upstream).sum().backward();
  CHECK(same_values(weight.grad(), upstream));
  CHECK(quantizer.parameters().size() == (learnable ? 1u : 0u));
}

TEST_CASE("A learnable α gets the true gradient, as finite differences measure it", "[quant]") {
  torch::manual_seed(3);
  const auto weight = torch::randn({4, 9}, torch::kDouble).requires_grad_();
  const auto upstream = torch::randn({4, 9}, torch::kDouble);
  TernaryQuantizer quantizer(TernaryOptions().learnable_alpha(true), weight);
  auto alpha = quantizer.parameters().at(0);
  REQUIRE(alpha.sizes() == torch::IntArrayRef({4, 1}));
  CHECK(torch::allclose(alpha, ternarize(weight, 0.7, Granularity::kChannel).alpha));  // starts at the formula
  // A non-linear loss, so that the gradient depends on where it is taken.
  const auto loss = [&] { return (quantizer.quantize(weight).sin() * upstream).sum(); };
  loss().backward();
  const auto analytic = alpha.grad().clone();

  const auto codes = quantizer.ternarize(weight).codes;
  const auto wq = quantizer.quantize(weight).detach();
  CHECK(torch::allclose(analytic, (wq.cos() * upstream * codes).sum(1, true)));  // Σ_i dL/dWq[c,i]·T[c,i]

  const double eps = 1e-6;
  torch::NoGradGuard no_grad;
  for (int64_t c = 0; c < 4; ++c) {
    alpha[c] += eps;
    const double up = loss().item<double>();
    alpha[c] -= 2 * eps;
    const double down = loss().item<double>();
    alpha[c] += eps;
    CHECK(analytic[c][0].item<double>() == Approx((up - down) / (2 * eps)).epsilon(1e-6).margin(1e-8));
  }
}

TEST_CASE("Ternary integer weights are the trits and the α forward uses, per channel or per matrix", "[quant]") {
  const auto weight = hand_matrix();
  TernaryQuantizer channel(TernaryOptions().delta(0.5), weight);
  const auto per_channel = channel.integer_weight(weight);
  CHECK(same_values(per_channel.codes, matrix({{0, 1, 1, 1}, {0, 0, 0, 0}, {0, 0, -1, 0}, {0, -1, -1, 0}})));
  CHECK(torch::allclose(per_channel.scale, torch::tensor({7.0f / 3, 0.0f, 8.0f, 3.0f})));
  TernaryQuantizer layer(TernaryOptions().delta(0.5).granularity(Granularity::kLayer), weight);
  const auto per_layer = layer.integer_weight(weight);
  REQUIRE(per_layer.scale.sizes() == torch::IntArrayRef{4});
  CHECK(per_layer.scale.eq(per_layer.scale[0]).all().item<bool>());
  // A learnable α (here moved away from its formula value) is the one exported.
  TernaryQuantizer learnable(TernaryOptions().delta(0.5).learnable_alpha(true), weight);
  {
    torch::NoGradGuard no_grad;
    learnable.parameters()[0].mul_(2);
  }
  for (auto* quantizer : {&channel, &layer, &learnable}) {
    const auto integer = quantizer->integer_weight(weight);
    CHECK(torch::allclose(integer.codes * integer.scale.unsqueeze(1), quantizer->quantize(weight).detach()));
  }
  CHECK(torch::allclose(learnable.integer_weight(weight).scale, 2 * per_channel.scale));
}
