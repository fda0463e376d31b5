// The packed ternary kernels: the reference against plain LibTorch arithmetic, the AVX2 and AVX-512 kernels against
// the reference on random shapes (odd ones included), and the layer that splits rows across threads.
#include <catch2/catch.hpp>

#include <algorithm>
#include <mutex>
#include <set>
#include <tuple>

#include "test_helpers.h"
#include "tervit/core/error.h"
#include "tervit/libtorch/process.h"
#include "tervit/deploy/packed_linear.h"
#include "tervit/kernels/ternary_kernels.h"
#include "tervit/quant/activation_quant.h"

using namespace tervit;
using namespace tervit::kernels;
using tervit::testing::relative_error;

namespace {

struct Case {
  torch::Tensor trits;  // rows x cols, int8
  torch::Tensor alpha;  // rows, float
  torch::Tensor bias;   // rows, float (possibly undefined)
  PackedTernaryMatrix matrix;
};

Case random_case(int64_t rows, int64_t cols, bool with_bias) {
  Case c;
  c.trits = torch::randint(-1, 2, {rows, cols}, torch::kInt8);
  c.alpha = torch::rand({rows}) + 0.5;
  c.matrix = pack_matrix(c.trits.data_ptr<int8_t>(), rows, cols);
  c.matrix.alpha.assign(c.alpha.data_ptr<float>(), c.alpha.data_ptr<float>() + rows);
  if (with_bias) {
    c.bias = torch::randn({rows});
    c.matrix.bias.assign(c.bias.data_ptr<float>(), c.bias.data_ptr<float>() + rows);
  }
  return c;
}

torch::Tensor run_exact(ExactKernel kernel, const PackedTernaryMatrix& w, const torch::Tensor& x) {
  auto y = torch::full({x.size(0), w.rows}, std::nanf(""));
  kernel(w, x.data_ptr<float>(), x.size(0), 0, w.rows, y.data_ptr<float>());
  return y;
}

torch::Tensor run_int8(Int8Kernel kernel, const PackedTernaryMatrix& w, const QuantizedTokens& q) {
  auto y = torch::full({q.tokens, w.rows}, std::nanf(""));
  kernel(w, q, 0, w.rows, y.data_ptr<float>());
  return y;
}

// Shapes (rows, cols, tokens): single elements, odd sizes, sizes off block and tile boundaries, and
// the widths of DeiT-S and Swin-S. Each of the AVX-512 kernel's tilings is among them: fewer than 4
// tokens ({3, 5, 2}, {9, 300, 3}: a last block without a second half), rows up to 1024 wide with at least
// 32 tokens ({40, 200, 37}: rows and tokens off its 32 x 8 tiles; {96, 48, 64}: whole tiles only), and
// the rest.
const std::vector<std::tuple<int64_t, int64_t, int64_t>>& shapes() {
  static const std::vector<std::tuple<int64_t, int64_t, int64_t>> all{
      {1, 1, 1},   {3, 5, 2},      {7, 128, 5},   {33, 200, 9},   {64, 384, 13}, {17, 3072, 4},
      {96, 48, 7}, {5, 1536, 130}, {9, 300, 3},   {40, 200, 37},  {96, 48, 64}, {70, 3072, 47}};
  return all;
}

}  // namespace

TEST_CASE("The exact reference kernel computes alpha times the signed sums plus bias", "[deploy]") {
  for (const auto& [rows, cols, tokens] : shapes()) {
    CAPTURE(rows, cols, tokens);
    const auto c = random_case(rows, cols, rows % 2 == 1);
    const auto x = torch::randn({tokens, cols});
    auto expected = torch::matmul(x.to(torch::kDouble), c.trits.to(torch::kDouble).t()) * c.alpha.to(torch::kDouble);
    // Float sums are exact to a few ulps of the sum of their terms' magnitudes, not of the result (which
    // cancellation can make tiny: a 1x1 case with α·x ≈ -bias failed a plain relative bound once).
    auto magnitude = torch::matmul(x.abs().to(torch::kDouble), c.trits.abs().to(torch::kDouble).t()) * c.alpha.to(torch::kDouble);
    if (c.bias.defined()) {
      expected += c.bias.to(torch::kDouble);
      magnitude += c.bias.abs().to(torch::kDouble);
    }
    const auto error = (run_exact(exact_kernel_reference, c.matrix, x).to(torch::kDouble) - expected).abs() / magnitude.clamp_min(1e-30);
    CHECK(error.max().item<double>() < 1e-6);
  }
}

TEST_CASE("The AVX2 exact kernel equals the reference up to float reassociation", "[deploy]") {
  if (!cpu_has_avx2()) {
    tervit::testing::skip_test("no AVX2 on this CPU: only the reference kernels run");
    return;
  }
  for (const auto& [rows, cols, tokens] : shapes()) {
    CAPTURE(rows, cols, tokens);
    const auto c = random_case(rows, cols, true);
    const auto x = torch::randn({tokens, cols});
    const auto reference = run_exact(exact_kernel_reference, c.matrix, x);
    CHECK(relative_error(run_exact(exact_kernel_avx2, c.matrix, x), reference) < 1e-6);
  }
}

TEST_CASE("Token quantization is BitNet's per-token absmax, as the fake quantizer computes it", "[deploy]") {
  const auto x = torch::randn({9, 70}) * torch::linspace(0.01, 10, 9).unsqueeze(1);
  x[4].zero_();
  const auto q = quantize_tokens(x.data_ptr<float>(), 9, 70);
  REQUIRE(q.stride == 128);
  const auto values = torch::from_blob(const_cast<int8_t*>(q.values.data()), {9, 128}, torch::kInt8);
  CHECK(values.slice(1, 70).abs().sum().item<int64_t>() == 0);  // padding
  CHECK(values.abs().max().item<int>() == 127);
  CHECK(torch::equal(values.sum(1).to(torch::kInt32), torch::from_blob(const_cast<int32_t*>(q.sum.data()), {9}, torch::kInt32)));
  const auto dequantized = values.slice(1, 0, 70).to(torch::kFloat) * torch::from_blob(const_cast<float*>(q.scale.data()), {9, 1});
  const auto fake = tervit::quant::AbsmaxTokenQuantizer().quantize(x);
  CHECK(relative_error(dequantized, fake) < 1e-6);
  CHECK(q.scale[4] > 0);
}

TEST_CASE("The AVX2 and AVX-512 token quantizers give the reference's values, scales and sums", "[deploy]") {
  std::vector<TokenQuantizer> quantizers;
  if (cpu_has_avx2()) quantizers.push_back(quantize_tokens_avx2);
  if (cpu_has_avx512_vnni()) quantizers.push_back(quantize_tokens_avx512);
  if (quantizers.size() < 2) WARN("this CPU lacks AVX2 or AVX-512: only " << quantizers.size() << " fast quantizers were compared");
  // Widths around the 16- and 32-value vector steps; runs around the AVX-512 quantizer's 16 tokens; zeros;
  // rounding ties (absmax 127 makes x · 127 / absmax = x, and x = k + 0.5); a maximum in the scalar tail.
  // Rows are 3 bytes longer than quantized_stride(cols): the values are followed by zeros up to it, and the
  // bytes past it stay as they were.
  for (const int64_t cols : {1, 7, 15, 16, 17, 31, 32, 33, 48, 70, 96, 384, 1000}) {
    auto x = torch::randn({35, cols}) * torch::linspace(0.01, 10, 35).unsqueeze(1);
    x[1].zero_();
    x[2] = (torch::arange(cols) % 200 - 100).to(torch::kFloat) + 0.5;
    x[2][cols - 1] = 127;
    x[3][cols - 1] = 1e3;
    x[17] = x[2];
    const int64_t stride = quantized_stride(cols) + 3;
    for (const int64_t tokens : {1, 4, 16, 17, 35}) {
      CAPTURE(cols, tokens);
      std::vector<int8_t> expected(tokens * stride, 55);
      std::vector<float> expected_scale(tokens);
      std::vector<int32_t> expected_sum(tokens);
      quantize_tokens_reference(x.data_ptr<float>(), tokens, cols, stride, expected.data(), expected_scale.data(), expected_sum.data());
      for (int64_t n = 0; n < tokens; ++n) {
        CHECK(std::all_of(&expected[n * stride + cols], &expected[n * stride + quantized_stride(cols)], [](int8_t v) { return v == 0; }));
        CHECK(std::all_of(&expected[n * stride + quantized_stride(cols)], &expected[(n + 1) * stride], [](int8_t v) { return v == 55; }));
      }
      for (const auto quantize : quantizers) {
        std::vector<int8_t> actual(tokens * stride, 55);
        std::vector<float> actual_scale(tokens);
        std::vector<int32_t> actual_sum(tokens);
        quantize(x.data_ptr<float>(), tokens, cols, stride, actual.data(), actual_scale.data(), actual_sum.data());
        CHECK(actual == expected);
        CHECK(actual_scale == expected_scale);
        CHECK(actual_sum == expected_sum);
      }
    }
  }
}

TEST_CASE("The int8 kernels compute the same integer sums", "[deploy]") {
  for (const auto& [rows, cols, tokens] : shapes()) {
    CAPTURE(rows, cols, tokens);
    auto c = random_case(rows, cols, false);
    // α = 1, scale = 1, no bias: the outputs are the integer sums themselves (exact in float).
    c.matrix.alpha.assign(rows, 1.0f);
    const auto x = torch::randn({tokens, cols}) * 3;
    auto q = quantize_tokens(x.data_ptr<float>(), tokens, cols);
    q.scale.assign(tokens, 1.0f);
    const auto values = torch::from_blob(q.values.data(), {tokens, q.stride}, torch::kInt8).slice(1, 0, cols);
    const auto expected = torch::matmul(values.to(torch::kLong), c.trits.to(torch::kLong).t()).to(torch::kFloat);
    // The same tokens with 64 bytes of garbage after each row: a kernel that reads past quantized_stride(cols)
    // (into a matrix's padded block) gets other sums.
    QuantizedTokens poisoned = q;
    poisoned.stride = q.stride + 64;
    poisoned.values.assign(static_cast<size_t>(tokens * poisoned.stride), 85);
    for (int64_t n = 0; n < tokens; ++n) std::copy_n(&q.values[n * q.stride], q.stride, &poisoned.values[n * poisoned.stride]);
    for (const auto& tokens_in : {q, poisoned}) {
      CAPTURE(tokens_in.stride);
      CHECK(torch::equal(run_int8(int8_kernel_reference, c.matrix, tokens_in), expected));
      if (cpu_has_avx2()) CHECK(torch::equal(run_int8(int8_kernel_avx2, c.matrix, tokens_in), expected));
      if (cpu_has_avx512_vnni()) CHECK(torch::equal(run_int8(int8_kernel_avx512_vnni, c.matrix, tokens_in), expected));
    }
  }
  // Extreme values: every activation ±127 against every weight ±1 (the int16 partial sums' worst case),
  // for 2 tokens and for 40 (the AVX-512 kernel's interleaved tiles, whose sums start at a float's bits).
  for (const int64_t tokens : {2, 40}) {
    CAPTURE(tokens);
    auto c = random_case(4, 3072, false);
    c.matrix = pack_matrix(torch::ones({4, 3072}, torch::kInt8).data_ptr<int8_t>(), 4, 3072);
    c.matrix.alpha.assign(4, 1.0f);
    const auto x = torch::ones({tokens, 3072});
    auto q = quantize_tokens(x.data_ptr<float>(), tokens, 3072);
    q.scale.assign(tokens, 1.0f);
    const auto expected = torch::full({tokens, 4}, 127.0f * 3072);
    CHECK(torch::equal(run_int8(int8_kernel_reference, c.matrix, q), expected));
    if (cpu_has_avx2()) CHECK(torch::equal(run_int8(int8_kernel_avx2, c.matrix, q), expected));
    if (cpu_has_avx512_vnni())
      CHECK(torch::equal(run_int8(int8_kernel_avx512_vnni, c.matrix, q), expected));
    else
      WARN("this CPU has no AVX-512 VNNI: its int8 kernel was not compared");
  }
}

TEST_CASE("A packed layer splits its rows, or its many tokens, across threads and gives the single-threaded result",
          "[deploy]") {
  // at::parallel_for's OpenMP pragma compiles in tervit's code (and this test's, with the same flags): two
  // threads must really run, or the layer's loop is serial.
  const int threads = tervit::set_threads(0);
  tervit::set_threads(2);
  std::set<int> seen;
  std::mutex seen_mutex;
  at::parallel_for(0, 64, 1, [&](int64_t, int64_t) {
    const std::lock_guard<std::mutex> lock(seen_mutex);
    seen.insert(at::get_thread_num());
  });
  CHECK(seen.size() == 2);

  // 6 tokens: the threads take rows; 600: in int8 mode they take tokens (at least 256 each). Both products
  // are large enough for two threads in int8 mode (at least 2^17 multiply-adds each).
  const auto c = random_case(301, 200, true);
  const int64_t per_image = GENERATE(3, 300);
  const auto x = torch::randn({2, per_image, 200});
  const auto mode = GENERATE(PackedMode::kExact, PackedMode::kInt8);
  CAPTURE(per_image, packed_mode_names().name(mode));
  const deploy::PackedTernaryLinear layer(c.matrix, mode);
  const auto parallel = layer.forward(x);
  tervit::set_threads(1);
  const auto serial = layer.forward(x);
  tervit::set_threads(threads);
  CHECK(parallel.sizes() == std::vector<int64_t>{2, per_image, 301});
  CHECK(torch::equal(parallel, serial));
  const int64_t tokens = 2 * per_image;
  const auto flat = x.reshape({tokens, 200});
  const auto expected = mode == PackedMode::kExact
                            ? run_exact(exact_kernel_reference, c.matrix, flat)
                            : run_int8(int8_kernel_reference, c.matrix,
                                       quantize_tokens(flat.data_ptr<float>(), tokens, 200));
  CHECK(relative_error(serial.reshape({tokens, 301}), expected) < 1e-6);
}

TEST_CASE("A packed layer refuses inputs it cannot run", "[deploy]") {
  const deploy::PackedTernaryLinear layer(random_case(4, 8, false).matrix, PackedMode::kExact);
  CHECK_THROWS_WITH(layer.forward(torch::randn({2, 8}, torch::kDouble)), Catch::Contains("float32"));
  CHECK_THROWS_WITH(layer.forward(torch::randn({2, 9})), Catch::Contains("8 input features"));
  CHECK_THROWS_AS(packed_mode_names().parse("fast", "packed mode"), tervit::Error);
}
