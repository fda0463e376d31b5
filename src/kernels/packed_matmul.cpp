#include "tervit/kernels/packed_matmul.h"

#include <algorithm>

#include "src/kernels/round_up.h"
#include "tervit/kernels/parallel_chunks.h"
#include "tervit/core/error.h"
#include "tervit/kernels/ternary_kernels.h"

namespace tervit::kernels {

namespace {
// Exact mode: output channels per task, enough work per task to amortise the kernel's per-row decoding.
constexpr int64_t kRowsPerTask = 16;
// Int8 mode: the kernels' row and token tiles; a thread's rows are a multiple of the one, its tokens of
// the other, so no tile straddles two threads.
constexpr int64_t kInt8RowTile = 32;
constexpr int64_t kInt8TokenTile = 8;
// Below this many tokens per thread, threads split the output channels instead of the tokens: each then
// decodes half the rows rather than all of them, and 32-row tiles share a batch-1 ViT's 197 tokens out
// evenly where 8-token tiles split them 104 / 93 (deit_small's products at 2 threads: 8% faster than with
// 64, bench_packed gemm).
constexpr int64_t kMinTokensPerThread = 256;
// Products smaller than this many multiply-adds per thread take fewer threads: waking a second thread
// costs about as long as a batch-1 384x384 product (150 K multiply-adds, 2 µs).
constexpr int64_t kMinProductsPerThread = int64_t{1} << 17;

// The calling thread's quantized activations, reused by every layer: fresh megabytes on every call cost
// page faults comparable to the products of a small layer.
QuantizedTokens& thread_buffer() {
  thread_local QuantizedTokens buffer;
  return buffer;
}

// Int8 mode: with enough tokens each thread quantizes and multiplies its own run of tokens against every
// row (its activations stay in its cache, and rows are decoded once per thread); otherwise the tokens are
// quantized together and each thread takes a run of rows.
void int8_matmul(const PackedTernaryMatrix& w, const float* x, int64_t tokens, float* y) {
  const auto kernel = best_int8_kernel();
  const int64_t threads = std::clamp<int64_t>(tokens * w.rows * w.cols / kMinProductsPerThread, 1, worker_count());
  if (threads > 1 && tokens >= kMinTokensPerThread * threads) {
    parallel_chunks(tokens, round_up((tokens + threads - 1) / threads, kInt8TokenTile), [&](int64_t begin, int64_t end) {
      auto& quantized = thread_buffer();
      quantize_tokens(x + begin * w.cols, end - begin, w.cols, quantized);
      kernel(w, quantized, 0, w.rows, y + begin * w.rows);
    });
    return;
  }
  auto& quantized = thread_buffer();
  quantize_tokens(x, tokens, w.cols, quantized);
  parallel_chunks(w.rows, round_up((w.rows + threads - 1) / threads, kInt8RowTile),
                  [&](int64_t begin, int64_t end) { kernel(w, quantized, begin, end, y); });
}

}  // namespace

const NameTable<PackedMode>& packed_mode_names() {
  static const NameTable<PackedMode> table{{"exact", PackedMode::kExact}, {"int8", PackedMode::kInt8}};
  return table;
}

void packed_matmul(const PackedTernaryMatrix& w, PackedMode mode, const float* x, int64_t tokens, float* y) {
  if (mode == PackedMode::kExact) {
    const auto kernel = best_exact_kernel();
    parallel_chunks(w.rows, kRowsPerTask, [&](int64_t begin, int64_t end) { kernel(w, x, tokens, begin, end, y); });
  } else {
    int8_matmul(w, x, tokens, y);
  }
}

}  // namespace tervit::kernels
