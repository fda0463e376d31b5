#include "tervit/deploy/packed_matmul.h"

#include "src/deploy/parallel_chunks.h"
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

void packed_matmul(const PackedTernaryMatrix& w, PackedMode mode, const float* x, int64_t tokens, float* y) {
  if (mode == PackedMode::kExact) {
    const auto kernel = best_exact_kernel();
    parallel_chunks(w.rows, kRowsPerTask, [&](int64_t begin, int64_t end) { kernel(w, x, tokens, begin, end, y); });
  } else {
    const auto kernel = best_int8_kernel();
    const auto quantized = quantize_tokens(x, tokens, w.cols, w.padded_cols());
    parallel_chunks(w.rows, kRowsPerTask, [&](int64_t begin, int64_t end) { kernel(w, quantized, begin, end, y); });
  }
}

}  // namespace tervit::deploy
