// The models' own CPU layers against LibTorch's: the fused attention against the matmul/softmax
// composition, GELU against torch::gelu, and DeiT's class-token-only last block against the full model;
// outputs and every gradient.
#include <catch2/catch.hpp>

#include "models/cpu_attention.h"
#include "models/cpu_gelu.h"
#include "models/deit.h"
#include "models/layers.h"
#include "models/registry.h"
#include "test_helpers.h"

using namespace tervit;
using namespace tervit::models;
using tervit::testing::relative_error;

namespace {

struct AttentionResult {
  torch::Tensor out, grad_qkv, grad_bias;
};

// Output and gradients for a fixed output gradient; `attention` is cpu_attention or matmul_attention.
template <typename Attention>
AttentionResult run_attention(const Attention& attention, const torch::Tensor& qkv_values, const torch::Tensor& bias_values,
                              const torch::Tensor& grad_out) {
  const auto qkv = qkv_values.clone().requires_grad_();
  const auto bias = bias_values.defined() ? bias_values.clone().requires_grad_() : torch::Tensor();
  const auto out = attention(qkv, bias);
  out.backward(grad_out);
  return {out.detach(), qkv.grad(), bias.defined() ? bias.grad() : torch::Tensor()};
}

struct AttentionCase {
  int64_t windows, tokens, heads, head_dim, bias_groups, queries;
};
// No bias (DeiT), one shared bias (Swin), a bias per window position (Swin's shift mask), and only the
// first tokens attending (DeiT's last block), with and without a bias; odd sizes throughout.
const std::vector<AttentionCase> kAttentionCases{{3, 13, 3, 8, 0, 0}, {2, 9, 2, 5, 1, 0}, {6, 7, 3, 4, 3, 0}, {3, 11, 2, 6, 0, 2}, {4, 5, 1, 3, 2, 1}};

// A case's random qkv, bias (undefined without) and output gradient, and matmul attention's result.
struct AttentionInputs {
  torch::Tensor qkv, bias, grad_out;
  AttentionResult expected;
};
AttentionInputs attention_inputs(const AttentionCase& c) {
  torch::manual_seed(3);
  const int64_t channels = c.heads * c.head_dim, rows = c.queries > 0 ? c.queries : c.tokens;
  AttentionInputs in;
  in.qkv = torch::randn({c.windows, c.tokens, 3 * channels});
  in.bias = c.bias_groups > 0 ? torch::randn({c.bias_groups, c.heads, rows, c.tokens}) : torch::Tensor();
  in.grad_out = torch::randn({c.windows, rows, channels});
  torch::nn::Dropout no_dropout(0.0);
  in.expected = run_attention(
      [&](const torch::Tensor& x, const torch::Tensor& b) { return matmul_attention(x, c.heads, b, no_dropout, c.queries); }, in.qkv,
      in.bias, in.grad_out);
  return in;
}

}  // namespace

TEST_CASE("The fused CPU attention equals matmul attention, gradients included", "[models][cpu_layers]") {
  const auto c = GENERATE(from_range(kAttentionCases));
  CAPTURE(c.windows, c.tokens, c.heads, c.head_dim, c.bias_groups, c.queries);
  const int64_t channels = c.heads * c.head_dim;
  const auto [qkv, bias, grad_out, expected] = attention_inputs(c);
  const auto fused = [&](const torch::Tensor& x, const torch::Tensor& b) { return cpu_attention(x, c.heads, b, c.queries); };
  const auto actual = run_attention(fused, qkv, bias, grad_out);

  REQUIRE(actual.out.sizes() == expected.out.sizes());
  CHECK(relative_error(actual.out, expected.out) < 1e-6);
  CHECK(relative_error(actual.grad_qkv, expected.grad_qkv) < 1e-6);
  if (c.queries > 0) CHECK(actual.grad_qkv.narrow(1, c.queries, c.tokens - c.queries).narrow(2, 0, channels).abs().max().item<float>() == 0.0f);
  if (bias.defined()) CHECK(relative_error(actual.grad_bias, expected.grad_bias) < 1e-6);

  // Without a graph the same values come from the scratch path; and each head's arithmetic does not
  // depend on the thread count.
  {
    torch::NoGradGuard no_grad;
    CHECK(torch::equal(cpu_attention(qkv, c.heads, bias, c.queries), actual.out));
  }
  const int threads = torch::get_num_threads();
  torch::set_num_threads(threads == 1 ? 2 : 1);
  const auto other_threads = run_attention(fused, qkv, bias, grad_out);
  torch::set_num_threads(threads);
  CHECK(torch::equal(other_threads.out, actual.out));
  CHECK(torch::equal(other_threads.grad_qkv, actual.grad_qkv));
}

TEST_CASE("scaled_dot_product_attention (LibTorch 2.x) equals matmul attention, gradients included", "[models][cpu_layers]") {
  if (!sdpa_available()) {
    testing::skip_test("LibTorch " TORCH_VERSION " has no scaled_dot_product_attention");
    return;
  }
  const auto c = GENERATE(from_range(kAttentionCases));  // the bias per window position laid out per window
  CAPTURE(c.windows, c.tokens, c.heads, c.head_dim, c.bias_groups, c.queries);
  const auto [qkv, bias, grad_out, expected] = attention_inputs(c);
  torch::nn::Dropout no_dropout(0.0);
  const auto actual = run_attention(
      [&](const torch::Tensor& x, const torch::Tensor& b) { return sdpa_attention(x, c.heads, b, no_dropout, c.queries); }, qkv,
      bias, grad_out);
  REQUIRE(actual.out.sizes() == expected.out.sizes());
  CHECK(relative_error(actual.out, expected.out) < 1e-5);
  CHECK(relative_error(actual.grad_qkv, expected.grad_qkv) < 1e-5);
  if (bias.defined()) CHECK(relative_error(actual.grad_bias, expected.grad_bias) < 1e-5);
}

TEST_CASE("Models take the fused attention on CPU, and SDPA (LibTorch 2.x) or matmul attention with attention dropout", "[models][cpu_layers]") {
  torch::manual_seed(4);
  const auto qkv = torch::randn({2, 5, 12});
  torch::nn::Dropout dropout(0.5);
  dropout->train();
  // Half the probabilities dropped and the rest doubled cannot give the fused path's output; the dropout
  // runs inside scaled_dot_product_attention where LibTorch has it.
  torch::manual_seed(6);
  const auto dropped = qkv_attention(qkv, 2, {}, dropout);
  CHECK_FALSE(torch::allclose(dropped, cpu_attention(qkv, 2, {})));
  torch::manual_seed(6);
  CHECK(torch::equal(dropped, sdpa_available() ? sdpa_attention(qkv, 2, {}, dropout) : matmul_attention(qkv, 2, {}, dropout)));
  dropout->eval();
  CHECK(torch::equal(qkv_attention(qkv, 2, {}, dropout), cpu_attention(qkv, 2, {})));
  CHECK_THROWS_WITH(cpu_attention(torch::randn({2, 5, 10}), 2, {}), Catch::Contains("channels a multiple of 2 heads"));
  CHECK_THROWS_WITH(cpu_attention(qkv, 2, torch::randn({1, 2, 4, 5})), Catch::Contains("bias must be"));
}

TEST_CASE("DeiT's head features (class tokens alone in the last block) give the full model's logits and gradients",
          "[models][cpu_layers]") {
  const auto distilled = GENERATE(false, true);
  CAPTURE(distilled);
  torch::manual_seed(5);
  const auto config = std::string("{img_size: 32, patch_size: 8, embed_dim: 24, depth: 2, num_heads: 2, num_classes: 5, distilled: ") +
                      (distilled ? "true}" : "false}");
  auto model = create_model(model_architecture("deit", YAML::Load(config)));
  model->train();
  const auto images = torch::randn({3, 3, 32, 32});

  const auto gradients = [&](const torch::Tensor& logits) {
    model->zero_grad();
    logits.pow(2).sum().backward();
    std::vector<torch::Tensor> grads;
    for (const auto& p : model->parameters()) grads.push_back(p.grad().clone());
    return grads;
  };
  const auto full_logits = model->forward_head(model->forward_features(images));
  const auto full_grads = gradients(full_logits);
  const auto features = model->head_features(images);
  CHECK(features.size(1) == (distilled ? 2 : 1));
  const auto logits = model->forward(images);
  const auto grads = gradients(logits);

  CHECK(relative_error(logits, full_logits) < 1e-6);
  REQUIRE(grads.size() == full_grads.size());
  for (size_t i = 0; i < grads.size(); ++i) {
    CAPTURE(i);
    CHECK(relative_error(grads[i], full_grads[i]) < 1e-5);
  }
}

TEST_CASE("The CPU GELU equals torch::gelu, gradient included", "[models][cpu_layers]") {
  torch::manual_seed(6);
  // Odd length (the vector loop's tail), values over the whole useful range, a non-contiguous input.
  const auto values = (torch::randn({37, 29}) * 3).t();
  const auto grad_out = torch::randn({29, 37});
  const auto x = values.clone().requires_grad_();
  const auto expected_x = values.clone().requires_grad_();
  const auto y = cpu_gelu(x);
  const auto expected = torch::gelu(expected_x);
  y.backward(grad_out);
  expected.backward(grad_out);
  CHECK((y - expected).abs().max().item<float>() < 1e-6);
  CHECK((x.grad() - expected_x.grad()).abs().max().item<float>() < 2e-6);
  torch::NoGradGuard no_grad;
  CHECK(torch::equal(cpu_gelu(values), y));
  CHECK(torch::equal(exact_gelu(values), y));
}
