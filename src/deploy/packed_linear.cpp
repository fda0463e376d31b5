#include "tervit/deploy/packed_linear.h"

#include <ATen/Parallel.h>

#include <utility>

#include "tervit/core/error.h"
#include "tervit/deploy/ternary_kernels.h"

namespace tervit::deploy {

namespace {
// Output channels per task: enough work per task to amortise the kernels' per-row decoding.
constexpr int64_t kRowsPerTask = 16;
}  // namespace

PackedMode parse_packed_mode(const std::string& name) {
  if (name == "exact") return PackedMode::kExact;
  if (name == "int8") return PackedMode::kInt8;
  throw Error("unknown packed mode '" + name + "', expected exact or int8");
}

std::string packed_mode_name(PackedMode mode) { return mode == PackedMode::kExact ? "exact" : "int8"; }

PackedTernaryLinear::PackedTernaryLinear(PackedTernaryMatrix matrix, PackedMode mode)
    : matrix_(std::move(matrix)), mode_(mode) {}

torch::Tensor PackedTernaryLinear::forward(const torch::Tensor& tokens) const {
  if (!tokens.device().is_cpu())
    throw Error("packed ternary layers run on the CPU only, not on " + tokens.device().str() + ": use --device cpu");
  if (tokens.scalar_type() != torch::kFloat32)
    throw Error(std::string("packed ternary layers take float32 inputs, not ") + c10::toString(tokens.scalar_type()));
  if (tokens.dim() == 0 || tokens.size(-1) != matrix_.cols)
    throw Error("packed ternary layer with " + std::to_string(matrix_.cols) + " input features got an input of shape " +
                c10::str(tokens.sizes()));
  const auto x = tokens.reshape({-1, matrix_.cols}).contiguous();
  const int64_t count = x.size(0);
  auto y = torch::empty({count, matrix_.rows}, x.options());
  float* out = y.data_ptr<float>();
  if (mode_ == PackedMode::kExact) {
    const auto kernel = best_exact_kernel();
    const float* in = x.data_ptr<float>();
    at::parallel_for(0, matrix_.rows, kRowsPerTask, [&](int64_t begin, int64_t end) { kernel(matrix_, in, count, begin, end, out); });
  } else {
    const auto kernel = best_int8_kernel();
    const auto quantized = quantize_tokens(x.data_ptr<float>(), count, matrix_.cols, matrix_.padded_cols());
    at::parallel_for(0, matrix_.rows, kRowsPerTask, [&](int64_t begin, int64_t end) { kernel(matrix_, quantized, begin, end, out); });
  }
  auto shape = tokens.sizes().vec();
  shape.back() = matrix_.rows;
  return y.view(shape);
}

}  // namespace tervit::deploy
