// The AVX2 kernels. Each function carries target("avx2,fma") so that the rest of the build needs no
// -mavx2; they are only called where cpu_has_avx2() says so. Both walk the tokens in chunks that stay
// in the L2 cache while every row visits them, 2 rows x 4 tokens at a time, so that each decoded
// weight and each loaded activation serves several products.
#include "tervit/deploy/ternary_kernels.h"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TERVIT_AVX2 __attribute__((target("avx2,fma")))
#endif

namespace tervit::deploy {

#if defined(__x86_64__) || defined(__i386__)

namespace {

constexpr int64_t kTokenTile = 4;
constexpr int64_t kRowTile = 2;
// int16 partial sums of one token and row grow by at most 4 · 2 · 2 · 127 = 2032 per block: 16 blocks
// stay below 32767, then they are widened to int32.
constexpr int64_t kBlocksPerWidening = 16;

// Tokens per chunk: about 128 KB of activations (L2 holds them while the rows pass).
int64_t chunk_tokens(int64_t bytes_per_token) {
  return std::max<int64_t>(kTokenTile, 131072 / std::max<int64_t>(bytes_per_token, 1) / kTokenTile * kTokenTile);
}

TERVIT_AVX2 float horizontal_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

TERVIT_AVX2 int32_t horizontal_sum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

// Codes 32i .. 32i+31 of a block (bytes 0..2): one shift and mask.
TERVIT_AVX2 __m256i block_codes(__m256i packed, int i) {
  return _mm256_and_si256(_mm256_srl_epi16(packed, _mm_cvtsi32_si128(2 * i)), _mm256_set1_epi8(3));
}

// The low 8 codes of `codes` as floats -1, 0, 1 at `at`.
TERVIT_AVX2 void store_trits(float* at, __m128i codes) {
  _mm256_storeu_ps(at, _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(codes), _mm256_set1_epi32(1))));
}

// A row's trits as floats -1, 0, 1 (padded_cols of them): the exact kernel's operand for one row pair.
TERVIT_AVX2 void decode_row(const Block2Bit* blocks, int64_t count, float* out) {
  for (int64_t b = 0; b < count; ++b) {
    const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blocks[b].codes));
    for (int i = 0; i < 4; ++i) {
      const __m256i codes = block_codes(packed, i);
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
  float* const weights[kRowTile] = {decoded.data(), decoded.data() + w.padded_cols()};
  const int64_t chunk = chunk_tokens(cols * static_cast<int64_t>(sizeof(float)));
  for (int64_t chunk_begin = 0; chunk_begin < tokens; chunk_begin += chunk) {
    const int64_t chunk_end = std::min(tokens, chunk_begin + chunk);
    for (int64_t r = row_begin; r < row_end; r += kRowTile) {
      const int64_t rows[kRowTile] = {r, std::min(r + 1, row_end - 1)};  // an odd last row is computed twice
      for (int64_t j = 0; j < kRowTile; ++j) decode_row(w.row(rows[j]), w.blocks_per_row(), weights[j]);
      for (int64_t n = chunk_begin; n < chunk_end; n += kTokenTile) {
        const float* token[kTokenTile];
        for (int64_t t = 0; t < kTokenTile; ++t) token[t] = x + std::min(n + t, chunk_end - 1) * cols;
        __m256 sum[kRowTile][kTokenTile];
        for (auto& row_sums : sum)
          for (auto& s : row_sums) s = _mm256_setzero_ps();
        for (int64_t k = 0; k < vector_cols; k += 8) {
          const __m256 w0 = _mm256_loadu_ps(weights[0] + k), w1 = _mm256_loadu_ps(weights[1] + k);
          for (int64_t t = 0; t < kTokenTile; ++t) {
            const __m256 v = _mm256_loadu_ps(token[t] + k);
            sum[0][t] = _mm256_fmadd_ps(w0, v, sum[0][t]);
            sum[1][t] = _mm256_fmadd_ps(w1, v, sum[1][t]);
          }
        }
        for (int64_t t = 0; t < std::min(kTokenTile, chunk_end - n); ++t) {
          for (int64_t j = 0; j < kRowTile; ++j) {
            float total = horizontal_sum(sum[j][t]);
            for (int64_t k = vector_cols; k < cols; ++k) total += weights[j][k] * token[t][k];
            y[(n + t) * w.rows + rows[j]] = w.alpha[rows[j]] * total + (w.bias.empty() ? 0.0f : w.bias[rows[j]]);
          }
        }
      }
    }
  }
}

// The codes are t + 1 (unsigned, 0..2), which is what maddubs needs as its unsigned operand:
// Σ (t + 1) · q = Σ t · q + Σ q, so the token's Σ q is subtracted at the end.
TERVIT_AVX2 void int8_kernel_avx2(const PackedTernaryMatrix& w, const QuantizedTokens& q, int64_t row_begin,
                                  int64_t row_end, float* y) {
  const int64_t blocks = w.blocks_per_row();
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
        __m256i total[kRowTile][kTokenTile];
        for (auto& row_totals : total)
          for (auto& s : row_totals) s = _mm256_setzero_si256();
        for (int64_t first = 0; first < blocks; first += kBlocksPerWidening) {
          __m256i partial[kRowTile][kTokenTile];
          for (auto& row_partials : partial)
            for (auto& s : row_partials) s = _mm256_setzero_si256();
          for (int64_t b = first; b < std::min(blocks, first + kBlocksPerWidening); ++b) {
            const __m256i packed0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row0[b].codes));
            const __m256i packed1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row1[b].codes));
            for (int i = 0; i < 4; ++i) {
              const __m256i codes0 = block_codes(packed0, i), codes1 = block_codes(packed1, i);
              for (int64_t t = 0; t < kTokenTile; ++t) {
                const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(token[t] + b * Block2Bit::kTrits + 32 * i));
                partial[0][t] = _mm256_add_epi16(partial[0][t], _mm256_maddubs_epi16(codes0, a));
                partial[1][t] = _mm256_add_epi16(partial[1][t], _mm256_maddubs_epi16(codes1, a));
              }
            }
          }
          for (int64_t j = 0; j < kRowTile; ++j)
            for (int64_t t = 0; t < kTokenTile; ++t)
              total[j][t] = _mm256_add_epi32(total[j][t], _mm256_madd_epi16(partial[j][t], ones));
        }
        for (int64_t t = 0; t < std::min(kTokenTile, chunk_end - n); ++t) {
          for (int64_t j = 0; j < kRowTile; ++j) {
            const int32_t dot = horizontal_sum(total[j][t]) - q.sum[n + t];
            y[(n + t) * w.rows + rows[j]] =
                int8_output(dot, w.alpha[rows[j]], q.scale[n + t], w.bias.empty() ? 0.0f : w.bias[rows[j]]);
          }
        }
      }
    }
  }
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

#endif

}  // namespace tervit::deploy
