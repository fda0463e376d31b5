#include "src/runtime/transformer_parts.h"

#include <algorithm>

#include "tervit/kernels/parallel_chunks.h"
#include "tervit/kernels/float_ops.h"

namespace tervit::runtime {

void Norm::forward(const float* x, int64_t tokens, float* y) const {
  kernels::layer_norm(x, tokens, dim(), weight.data(), bias.data(), eps, y);
}

void Norm::residual_forward(kernels::TokenRows<float> x, kernels::TokenRows<const float> delta, int64_t tokens,
                            kernels::TokenRows<float> y) const {
  kernels::residual_layer_norm(x, delta, tokens, dim(), weight.data(), bias.data(), eps, y);
}

Norm take_norm(WeightFile& file, const std::string& prefix, int64_t dim, float eps) {
  Norm norm;
  norm.weight = file.take_floats(prefix + ".weight", {dim});
  norm.bias = file.take_floats(prefix + ".bias", {dim});
  norm.eps = eps;
  return norm;
}

namespace {
// Tokens per pass through an MLP. Its hidden layer, 4x wider than the tokens, is a model's largest
// activation: passes this long keep it small (Swin's first stage: 0.8 MB instead of 4.8) and still give
// each thread enough tokens for the packed kernels' token split. Each token's outputs are what one pass
// over all tokens would give.
constexpr int64_t kMlpTokensPerPass = 512;
}  // namespace

void Mlp::forward(const float* x, int64_t tokens, float* y, ScratchVector<float>& hidden, kernels::PackedMode mode) const {
  const int64_t pass = std::min(tokens, kMlpTokensPerPass);
  hidden.resize(static_cast<size_t>(pass * fc1.rows()));
  for (int64_t begin = 0; begin < tokens; begin += pass) {
    const int64_t count = std::min(pass, tokens - begin);
    fc1.forward(x + begin * fc1.cols(), count, hidden.data(), mode);
    kernels::gelu(hidden.data(), count * fc1.rows(), hidden.data());
    fc2.forward(hidden.data(), count, y + begin * fc2.rows(), mode);
  }
}

Mlp take_mlp(WeightFile& file, const std::string& prefix, int64_t dim, int64_t hidden, kernels::PackedBits bits) {
  Mlp mlp;
  mlp.fc1 = file.take_linear(prefix + ".fc1", {hidden, dim}, /*bias=*/true, bits);
  mlp.fc2 = file.take_linear(prefix + ".fc2", {dim, hidden}, /*bias=*/true, bits);
  return mlp;
}

void unfold_patches(const float* image, int64_t channels, int64_t side, int64_t patch, ScratchVector<float>& unfolded) {
  const int64_t grid = side / patch;
  unfolded.resize(static_cast<size_t>(grid * grid * channels * patch * patch));
  float* u = unfolded.data();
  for (int64_t py = 0; py < grid; ++py)
    for (int64_t px = 0; px < grid; ++px)
      for (int64_t c = 0; c < channels; ++c)
        for (int64_t ky = 0; ky < patch; ++ky, u += patch) std::copy_n(image + (c * side + py * patch + ky) * side + px * patch, patch, u);
}

void multi_head_attention(const float* qkv, int64_t groups, int64_t tokens, int64_t heads, int64_t dim, const float* bias,
                          const int* region, kernels::AttentionKernel attention, float* out, int64_t queries) {
  const int64_t head_dim = dim / heads;
  kernels::parallel_chunks(groups * heads, 1, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t group = task / heads, h = task % heads;
      const float* rows = qkv + group * tokens * 3 * dim;
      kernels::AttentionHead head{rows + h * head_dim, rows + dim + h * head_dim, rows + 2 * dim + h * head_dim, 3 * dim, tokens, head_dim};
      if (bias != nullptr) head.bias = bias + h * tokens * tokens;
      if (region != nullptr) head.region = region + group * tokens;
      head.queries = queries;
      attention(head, out + group * tokens * dim + h * head_dim, dim);
    }
  });
}

}  // namespace tervit::runtime
