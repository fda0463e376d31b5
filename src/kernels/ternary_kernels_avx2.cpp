// The AVX2 kernels. Each function carries target("avx2,fma") so that the rest of the build needs no
// -mavx2; they are only called where cpu_has_avx2() says so. Both walk the tokens in chunks that stay
// in the L2 cache while every row visits them, 2 rows x 4 tokens at a time, so that each decoded
// weight and each loaded activation serves several products.
#include "tervit/kernels/ternary_kernels.h"

#include <algorithm>

#include "src/kernels/x86_simd.h"

namespace tervit::kernels {

#if defined(__x86_64__) || defined(__i386__)

namespace {

using x86::block_codes;
using x86::sum_each;

constexpr int64_t kTokenTile = 4;
constexpr int64_t kRowTile = 2;
constexpr int64_t kTile = kRowTile * kTokenTile;  // accumulators per tile, index j * kTokenTile + t
// int16 partial sums of one token and row grow by at most 2 · 2 · 127 = 508 per 32 codes: 64 such
// steps stay below 32767, then they are widened to int32.
constexpr int64_t kStepsPerWidening = 64;

int64_t chunk_tokens(int64_t bytes_per_token) { return x86::chunk_tokens(bytes_per_token, kTokenTile); }

// The low 8 codes of `codes` as floats -1, 0, 1 at `at`.
TERVIT_AVX2 void store_trits(float* at, __m128i codes) {
  _mm256_storeu_ps(at, _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(codes), _mm256_set1_epi32(1))));
}

// A row's trits as floats -1, 0, 1 (padded_cols of them): the exact kernel's operand for one row pair.
TERVIT_AVX2 void decode_row(const Block2Bit* blocks, int64_t count, float* out) {
  for (int64_t b = 0; b < count; ++b) {
    for (int64_t i = 0; i < 4; ++i) {
      const __m256i codes = block_codes(blocks[b], i);
      const __m128i low = _mm256_castsi256_si128(codes), high = _mm256_extracti128_si256(codes, 1);
      float* at = out + b * Block2Bit::kTrits + 32 * i;
      store_trits(at, low);
      store_trits(at + 8, _mm_srli_si128(low, 8));
      store_trits(at + 16, high);
      store_trits(at + 24, _mm_srli_si128(high, 8));
    }
  }
}

}  // namespace

TERVIT_AVX2 void exact_kernel_avx2(const PackedTernaryMatrix& w, const float* x, int64_t tokens, int64_t row_begin,
                                   int64_t row_end, float* y) {
  const int64_t cols = w.cols, vector_cols = cols / 8 * 8;
  std::vector<float> decoded(static_cast<size_t>(kRowTile * w.padded_cols()));
  const float* const weights[kRowTile] = {decoded.data(), decoded.data() + w.padded_cols()};
  const int64_t chunk = chunk_tokens(cols * static_cast<int64_t>(sizeof(float)));
  for (int64_t chunk_begin = 0; chunk_begin < tokens; chunk_begin += chunk) {
    const int64_t chunk_end = std::min(tokens, chunk_begin + chunk);
    for (int64_t r = row_begin; r < row_end; r += kRowTile) {
      const int64_t rows[kRowTile] = {r, std::min(r + 1, row_end - 1)};  // an odd last row is computed twice
      for (int64_t j = 0; j < kRowTile; ++j) decode_row(w.row(rows[j]), w.blocks_per_row(), decoded.data() + j * w.padded_cols());
      for (int64_t n = chunk_begin; n < chunk_end; n += kTokenTile) {
        const float* token[kTokenTile];
        for (int64_t t = 0; t < kTokenTile; ++t) token[t] = x + std::min(n + t, chunk_end - 1) * cols;
        __m256 sum[kTile];
        for (auto& s : sum) s = _mm256_setzero_ps();
        for (int64_t k = 0; k < vector_cols; k += 8) {
          const __m256 w0 = _mm256_loadu_ps(weights[0] + k), w1 = _mm256_loadu_ps(weights[1] + k);
          for (int64_t t = 0; t < kTokenTile; ++t) {
            const __m256 v = _mm256_loadu_ps(token[t] + k);
            sum[t] = _mm256_fmadd_ps(w0, v, sum[t]);
            sum[kTokenTile + t] = _mm256_fmadd_ps(w1, v, sum[kTokenTile + t]);
          }
        }
        alignas(32) float totals[kTile];
        _mm256_store_ps(totals, sum_each(sum));
        for (int64_t t = 0; t < std::min(kTokenTile, chunk_end - n); ++t) {
          for (int64_t j = 0; j < kRowTile; ++j) {
            float total = totals[j * kTokenTile + t];
            for (int64_t k = vector_cols; k < cols; ++k) total += weights[j][k] * token[t][k];
            y[(n + t) * w.rows + rows[j]] = w.alpha[rows[j]] * total + (w.bias.empty() ? 0.0f : w.bias[rows[j]]);
          }
        }
      }
    }
  }
}

// The codes are t + 1 (unsigned, 0..2), which is what maddubs needs as its unsigned operand:
// Σ (t + 1) · q = Σ t · q + Σ q, so the token's Σ q is subtracted at the end. One step handles 32
// codes (block b = step / 4, field i = step % 4) of 2 rows against 4 tokens; the steps stop at the
// last one holding a column, within the tokens' rows.
TERVIT_AVX2 void int8_kernel_avx2(const PackedTernaryMatrix& w, const QuantizedTokens& q, int64_t row_begin,
                                  int64_t row_end, float* y) {
  const int64_t steps = (w.cols + 31) / 32;
  const __m256i ones = _mm256_set1_epi16(1);
  const int64_t chunk = chunk_tokens(q.stride);
  for (int64_t chunk_begin = 0; chunk_begin < q.tokens; chunk_begin += chunk) {
    const int64_t chunk_end = std::min(q.tokens, chunk_begin + chunk);
    for (int64_t r = row_begin; r < row_end; r += kRowTile) {
      const int64_t rows[kRowTile] = {r, std::min(r + 1, row_end - 1)};
      const Block2Bit* row0 = w.row(rows[0]);
      const Block2Bit* row1 = w.row(rows[1]);
      for (int64_t n = chunk_begin; n < chunk_end; n += kTokenTile) {
        const int8_t* token[kTokenTile];
        for (int64_t t = 0; t < kTokenTile; ++t) token[t] = q.values.data() + std::min(n + t, chunk_end - 1) * q.stride;
        __m256i total[kTile];
        for (auto& s : total) s = _mm256_setzero_si256();
        for (int64_t first = 0; first < steps; first += kStepsPerWidening) {
          __m256i partial[kTile];
          for (auto& s : partial) s = _mm256_setzero_si256();
          for (int64_t step = first; step < std::min(steps, first + kStepsPerWidening); ++step) {
            const __m256i codes0 = block_codes(row0[step / 4], step % 4), codes1 = block_codes(row1[step / 4], step % 4);
            for (int64_t t = 0; t < kTokenTile; ++t) {
              const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(token[t] + 32 * step));
              partial[t] = _mm256_add_epi16(partial[t], _mm256_maddubs_epi16(codes0, a));
              partial[kTokenTile + t] = _mm256_add_epi16(partial[kTokenTile + t], _mm256_maddubs_epi16(codes1, a));
            }
          }
          for (int64_t i = 0; i < kTile; ++i) total[i] = _mm256_add_epi32(total[i], _mm256_madd_epi16(partial[i], ones));
        }
        alignas(32) int32_t totals[kTile];
        _mm256_store_si256(reinterpret_cast<__m256i*>(totals), sum_each(total));
        for (int64_t t = 0; t < std::min(kTokenTile, chunk_end - n); ++t) {
          for (int64_t j = 0; j < kRowTile; ++j) {
            const int32_t dot = totals[j * kTokenTile + t] - q.sum[n + t];
            y[(n + t) * w.rows + rows[j]] =
                int8_output(dot, w.alpha[rows[j]], q.scale[n + t], w.bias.empty() ? 0.0f : w.bias[rows[j]]);
          }
        }
      }
    }
  }
}

namespace {

// quantize_tokens_reference's token in 8 lanes: the same products, clamps and rounding (cvtps rounds half
// to even, as the reference's magic constant does), so the same values.
TERVIT_AVX2 void quantize_token(const float* token, int64_t cols, int8_t* values, float* scale, int32_t* sum) {
  const int64_t vector_cols = cols / 32 * 32;
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  __m256 absmax8 = _mm256_setzero_ps();
  int64_t k = 0;
  // max(|x|, running) keeps the running maximum where x is NaN, as std::max in the reference does.
  for (; k + 8 <= cols; k += 8) absmax8 = _mm256_max_ps(_mm256_andnot_ps(sign_bit, _mm256_loadu_ps(token + k)), absmax8);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, absmax8);
  float absmax = 0;
  for (const float lane : lanes) absmax = std::max(absmax, lane);
  for (; k < cols; ++k) absmax = std::max(absmax, std::abs(token[k]));
  const float to_int = 127.0f / std::max(absmax, 1e-5f);
  const __m256 factor = _mm256_set1_ps(to_int), low = _mm256_set1_ps(-127.0f), high = _mm256_set1_ps(127.0f);
  const __m256i byte_order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);  // undoes the per-lane packing
  __m256i total8 = _mm256_setzero_si256();
  for (k = 0; k < vector_cols; k += 32) {
    __m256i part[4];
    for (int64_t i = 0; i < 4; ++i) {
      const __m256 value = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_loadu_ps(token + k + 8 * i), factor), low), high);
      part[i] = _mm256_cvtps_epi32(value);
      total8 = _mm256_add_epi32(total8, part[i]);
    }
    const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(part[0], part[1]), _mm256_packs_epi32(part[2], part[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(values + k), _mm256_permutevar8x32_epi32(packed, byte_order));
  }
  alignas(32) int32_t totals[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(totals), total8);
  int32_t total = 0;
  for (const int32_t lane : totals) total += lane;
  for (k = vector_cols; k < cols; ++k) {
    values[k] = quantize_value(token[k], to_int);
    total += values[k];
  }
  std::fill(values + cols, values + quantized_stride(cols), int8_t{0});
  *scale = 1.0f / to_int;
  *sum = total;
}

}  // namespace

void quantize_tokens_avx2(const float* x, int64_t tokens, int64_t cols, int64_t stride, int8_t* values, float* scale,
                          int32_t* sum) {
  for (int64_t n = 0; n < tokens; ++n) quantize_token(x + n * cols, cols, values + n * stride, scale + n, sum + n);
}

#else  // no x86: the AVX2 entry points run the reference (cpu_has_avx2() is false, nothing selects them)

void exact_kernel_avx2(const PackedTernaryMatrix& w, const float* x, int64_t tokens, int64_t row_begin, int64_t row_end,
                       float* y) {
  exact_kernel_reference(w, x, tokens, row_begin, row_end, y);
}

void int8_kernel_avx2(const PackedTernaryMatrix& w, const QuantizedTokens& q, int64_t row_begin, int64_t row_end,
                      float* y) {
  int8_kernel_reference(w, q, row_begin, row_end, y);
}

void quantize_tokens_avx2(const float* x, int64_t tokens, int64_t cols, int64_t stride, int8_t* values, float* scale,
                          int32_t* sum) {
  quantize_tokens_reference(x, tokens, cols, stride, values, scale, sum);
}

#endif

}  // namespace tervit::kernels
