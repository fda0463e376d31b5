// The reference kernels, token quantization and the run-time choice of kernel.
#include "tervit/kernels/ternary_kernels.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "tervit/kernels/parallel_chunks.h"
#include "tervit/core/cpu_environment.h"

namespace tervit::kernels {

namespace {

// Row r of w as trits, padded to padded_cols() with zeros.
std::vector<int8_t> row_trits(const PackedTernaryMatrix& w, int64_t r) {
  std::vector<int8_t> trits(static_cast<size_t>(w.padded_cols()));
  unpack_2bit(w.row(r), w.cols, trits.data());
  return trits;
}

float bias_of(const PackedTernaryMatrix& w, int64_t r) { return w.bias.empty() ? 0.0f : w.bias[r]; }

}  // namespace

void exact_kernel_reference(const PackedTernaryMatrix& w, const float* x, int64_t tokens, int64_t row_begin,
                            int64_t row_end, float* y) {
  for (int64_t r = row_begin; r < row_end; ++r) {
    const auto trits = row_trits(w, r);
    for (int64_t n = 0; n < tokens; ++n) {
      const float* token = x + n * w.cols;
      float plus = 0, minus = 0;
      for (int64_t k = 0; k < w.cols; ++k) {
        if (trits[k] > 0) plus += token[k];
        if (trits[k] < 0) minus += token[k];
      }
      y[n * w.rows + r] = w.alpha[r] * (plus - minus) + bias_of(w, r);
    }
  }
}

float quantize_run_reference(const float* x, int64_t count, int64_t step, int8_t* values, int64_t value_step) {
  float absmax = 0;
  for (int64_t i = 0; i < count; ++i) absmax = std::max(absmax, std::abs(x[i * step]));
  // As quant::AbsmaxTokenQuantizer: the 1e-5 floor keeps an all-zero token finite.
  const float to_int = 127.0f / std::max(absmax, 1e-5f);
  for (int64_t i = 0; i < count; ++i) values[i * value_step] = quantize_value(x[i * step], to_int);
  return 1.0f / to_int;
}

void quantize_tokens_reference(const float* x, int64_t tokens, int64_t cols, int64_t stride, int8_t* values, float* scale,
                               int32_t* sum) {
  for (int64_t n = 0; n < tokens; ++n) {
    int8_t* row = values + n * stride;
    scale[n] = quantize_run_reference(x + n * cols, cols, 1, row, 1);
    sum[n] = std::accumulate(row, row + cols, int32_t{0});
    std::fill(row + cols, row + quantized_stride(cols), int8_t{0});
  }
}

void quantize_tokens(const float* x, int64_t tokens, int64_t cols, QuantizedTokens& out) {
  const TokenQuantizer quantize = best_token_quantizer();
  const int64_t stride = quantized_stride(cols);
  out.tokens = tokens;
  out.stride = stride;
  out.values.resize(static_cast<size_t>(tokens * stride));
  out.scale.resize(static_cast<size_t>(tokens));
  out.sum.resize(static_cast<size_t>(tokens));
  parallel_chunks(tokens, 16, [&](int64_t begin, int64_t end) {
    quantize(x + begin * cols, end - begin, cols, stride, out.values.data() + begin * stride, out.scale.data() + begin,
             out.sum.data() + begin);
  });
}

QuantizedTokens quantize_tokens(const float* x, int64_t tokens, int64_t cols) {
  QuantizedTokens q;
  quantize_tokens(x, tokens, cols, q);
  return q;
}

void int8_kernel_reference(const PackedTernaryMatrix& w, const QuantizedTokens& q, int64_t row_begin, int64_t row_end,
                           float* y) {
  for (int64_t r = row_begin; r < row_end; ++r) {
    const auto trits = row_trits(w, r);
    for (int64_t n = 0; n < q.tokens; ++n) {
      const int8_t* values = q.values.data() + n * q.stride;
      int32_t dot = 0;
      for (int64_t k = 0; k < w.cols; ++k) dot += trits[k] * values[k];
      y[n * w.rows + r] = int8_output(dot, w.alpha[r], q.scale[n], bias_of(w, r));
    }
  }
}

bool cpu_has_avx2() { return cpu_features().avx2; }

ExactKernel best_exact_kernel() { return cpu_has_avx2() ? exact_kernel_avx2 : exact_kernel_reference; }

TokenQuantizer best_token_quantizer() {
  if (cpu_has_avx512_vnni()) return quantize_tokens_avx512;
  return cpu_has_avx2() ? quantize_tokens_avx2 : quantize_tokens_reference;
}

Int8Kernel best_int8_kernel() {
  if (cpu_has_avx512_vnni()) return int8_kernel_avx512_vnni;
  return cpu_has_avx2() ? int8_kernel_avx2 : int8_kernel_reference;
}

}  // namespace tervit::kernels
