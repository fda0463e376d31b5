// The reference kernels, token quantization and the run-time choice of kernel.
#include "tervit/deploy/ternary_kernels.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

namespace tervit::deploy {

namespace {

constexpr float kRoundingMagic = 12582912.0f;  // 1.5 · 2^23

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

QuantizedTokens quantize_tokens(const float* x, int64_t tokens, int64_t cols, int64_t stride) {
  QuantizedTokens q;
  q.tokens = tokens;
  q.stride = stride;
  q.values.assign(static_cast<size_t>(tokens * stride), 0);
  q.scale.resize(static_cast<size_t>(tokens));
  q.sum.resize(static_cast<size_t>(tokens));
  at::parallel_for(0, tokens, 16, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      const float* token = x + n * cols;
      float absmax = 0;
      for (int64_t k = 0; k < cols; ++k) absmax = std::max(absmax, std::abs(token[k]));
      // As quant::AbsmaxTokenQuantizer: the 1e-5 floor keeps an all-zero token finite.
      const float to_int = 127.0f / std::max(absmax, 1e-5f);
      int8_t* values = q.values.data() + n * stride;
      int32_t sum = 0;
      for (int64_t k = 0; k < cols; ++k) {
        // Adding and subtracting 1.5 · 2^23 rounds to the nearest integer, half to even as torch.round
        // does, without a libm call per element (|value| <= 127 here).
        const float value = std::clamp(token[k] * to_int, -127.0f, 127.0f);
        values[k] = static_cast<int8_t>((value + kRoundingMagic) - kRoundingMagic);
        sum += values[k];
      }
      q.scale[n] = 1.0f / to_int;
      q.sum[n] = sum;
    }
  });
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

bool cpu_has_avx2() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

ExactKernel best_exact_kernel() { return cpu_has_avx2() ? exact_kernel_avx2 : exact_kernel_reference; }

Int8Kernel best_int8_kernel() { return cpu_has_avx2() ? int8_kernel_avx2 : int8_kernel_reference; }

}  // namespace tervit::deploy
