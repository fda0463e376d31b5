// AVX2 + FMA kernels of float_kernels.h (target attributes: the build needs no global -mavx2). Attention
// runs as blocked products: 4 queries x 16 keys of scores, then 4 queries x 16 channels of output, held in
// registers over the whole inner sum.
#include <algorithm>
#include <cmath>
#include <vector>

#include "src/kernels/float_kernels.h"
#include "src/kernels/round_up.h"
#include "src/kernels/x86_simd.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

namespace tervit::kernels {

namespace {

constexpr int64_t kQueryTile = 4;
constexpr int64_t kColumnTile = 16;  // two vectors of 8

TERVIT_AVX2 inline float horizontal_max(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

TERVIT_AVX2 inline float horizontal_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// acc[i] += Σ_t a[i][t] · b[t][0..16) for the 4 rows of a (a_stride apart) and `depth` rows of b
// (b_stride apart): one register tile, kept over the whole sum.
TERVIT_AVX2 inline void multiply_tile(const float* a, int64_t a_stride, const float* b, int64_t b_stride, int64_t depth,
                                      __m256 acc[kQueryTile][2]) {
  for (int64_t ii = 0; ii < kQueryTile; ++ii) acc[ii][0] = acc[ii][1] = _mm256_setzero_ps();
  for (int64_t t = 0; t < depth; ++t) {
    const __m256 b0 = _mm256_loadu_ps(b + t * b_stride), b1 = _mm256_loadu_ps(b + t * b_stride + 8);
    for (int64_t ii = 0; ii < kQueryTile; ++ii) {
      const __m256 weight = _mm256_broadcast_ss(a + ii * a_stride + t);
      acc[ii][0] = _mm256_fmadd_ps(weight, b0, acc[ii][0]);
      acc[ii][1] = _mm256_fmadd_ps(weight, b1, acc[ii][1]);
    }
  }
}

}  // namespace

// H(a) for 8 values a >= 0 (HalfErf, float_kernels.h; NaN: H(6)), as the reference's half_erf.
TERVIT_AVX2 inline __m256 half_erf(__m256 a) {
  a = _mm256_min_ps(a, _mm256_set1_ps(HalfErf::kEnd));
  const __m256 scaled = _mm256_mul_ps(a, _mm256_set1_ps(HalfErf::kPiecesPerUnit));
  const __m256 piece =
      _mm256_min_ps(_mm256_round_ps(scaled, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC), _mm256_set1_ps(HalfErf::kPieces - 1));
  const __m256i k = _mm256_cvttps_epi32(piece);
  const __m256 t = _mm256_fnmadd_ps(piece, _mm256_set1_ps(HalfErf::kWidth), a);
  __m256 h = _mm256_permutevar8x32_ps(_mm256_load_ps(HalfErf::kCoefficients[0]), k);
  for (size_t i = 1; i < std::size(HalfErf::kCoefficients); ++i)
    h = _mm256_fmadd_ps(h, t, _mm256_permutevar8x32_ps(_mm256_load_ps(HalfErf::kCoefficients[i]), k));
  return h;
}

TERVIT_AVX2 void gelu_avx2(const float* x, int64_t count, float* y) {
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  int64_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i), a = _mm256_andnot_ps(sign_bit, v);
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(a, half_erf(a), _mm256_mul_ps(v, _mm256_set1_ps(0.5f))));
  }
  gelu_reference(x + i, count - i, y + i);
}

TERVIT_AVX2 void gelu_backward_avx2(const float* x, const float* grad, int64_t count, float* grad_x) {
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  int64_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i), a = _mm256_andnot_ps(sign_bit, v);
    const __m256 z = _mm256_mul_ps(a, _mm256_set1_ps(kInvSqrt2));
    const __m256 gaussian = x86::exp_nonpositive(_mm256_mul_ps(_mm256_sub_ps(_mm256_setzero_ps(), z), z));
    const __m256 cdf = _mm256_add_ps(_mm256_set1_ps(0.5f), _mm256_or_ps(half_erf(a), _mm256_and_ps(sign_bit, v)));
    const __m256 slope = _mm256_fmadd_ps(_mm256_mul_ps(v, gaussian), _mm256_set1_ps(kInvSqrt2Pi), cdf);
    _mm256_storeu_ps(grad_x + i, _mm256_mul_ps(_mm256_loadu_ps(grad + i), slope));
  }
  gelu_backward_reference(x + i, grad + i, count - i, grad_x + i);
}

TERVIT_AVX2 void layer_norm_row_avx2(const float* in, int64_t dim, const float* weight, const float* bias, float eps, float* out) {
  const int64_t vector_end = dim / 8 * 8;
  __m256 sum = _mm256_setzero_ps();
  float tail = 0;
  for (int64_t i = 0; i < vector_end; i += 8) sum = _mm256_add_ps(sum, _mm256_loadu_ps(in + i));
  for (int64_t i = vector_end; i < dim; ++i) tail += in[i];
  const float mean = (horizontal_sum(sum) + tail) / static_cast<float>(dim);
  const __m256 mean8 = _mm256_set1_ps(mean);
  __m256 squares = _mm256_setzero_ps();
  tail = 0;
  for (int64_t i = 0; i < vector_end; i += 8) {
    const __m256 deviation = _mm256_sub_ps(_mm256_loadu_ps(in + i), mean8);
    squares = _mm256_fmadd_ps(deviation, deviation, squares);
  }
  for (int64_t i = vector_end; i < dim; ++i) tail += (in[i] - mean) * (in[i] - mean);
  const float inv_std = 1.0f / std::sqrt((horizontal_sum(squares) + tail) / static_cast<float>(dim) + eps);
  const __m256 inv_std8 = _mm256_set1_ps(inv_std);
  for (int64_t i = 0; i < vector_end; i += 8) {
    const __m256 normalized = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(in + i), mean8), inv_std8);
    _mm256_storeu_ps(out + i, _mm256_fmadd_ps(normalized, _mm256_loadu_ps(weight + i), _mm256_loadu_ps(bias + i)));
  }
  for (int64_t i = vector_end; i < dim; ++i) out[i] = (in[i] - mean) * inv_std * weight[i] + bias[i];
}

TERVIT_AVX2 void softmax_avx2(float* scores, int64_t count) {
  if (count < 8) return softmax_reference(scores, count);
  __m256 max8 = _mm256_loadu_ps(scores);
  int64_t j = 8;
  for (; j + 8 <= count; j += 8) max8 = _mm256_max_ps(max8, _mm256_loadu_ps(scores + j));
  float max = horizontal_max(max8);
  for (; j < count; ++j) max = std::max(max, scores[j]);
  const __m256 shift = _mm256_set1_ps(max);
  __m256 sum8 = _mm256_setzero_ps();
  for (j = 0; j + 8 <= count; j += 8) {
    const __m256 e = x86::exp_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(scores + j), shift));
    _mm256_storeu_ps(scores + j, e);
    sum8 = _mm256_add_ps(sum8, e);
  }
  float sum = horizontal_sum(sum8);
  for (; j < count; ++j) {
    scores[j] = std::exp(scores[j] - max);
    sum += scores[j];
  }
  const __m256 inverse = _mm256_set1_ps(1.0f / sum);
  for (j = 0; j + 8 <= count; j += 8) _mm256_storeu_ps(scores + j, _mm256_mul_ps(_mm256_loadu_ps(scores + j), inverse));
  for (; j < count; ++j) scores[j] *= 1.0f / sum;
}

TERVIT_AVX2 void attention_head_avx2(const AttentionHead& head, float* out, int64_t out_stride) {
  const int64_t n = head.tokens, m = head.query_count(), d = head.head_dim;
  const int64_t query_rows = round_up(m, kQueryTile), key_cols = round_up(n, kColumnTile), value_cols = round_up(d, kColumnTile);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  // Zero-padded copies: K transposed (d x key_cols), scaled Q (query_rows x d), V (n x value_cols), and the
  // scores (query_rows x key_cols).
  thread_local std::vector<float> buffer;
  buffer.assign(static_cast<size_t>(d * key_cols + query_rows * d + n * value_cols + query_rows * key_cols), 0.0f);
  float* keys_t = buffer.data();
  float* queries = keys_t + d * key_cols;
  float* values = queries + query_rows * d;
  float* scores = values + n * value_cols;
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t c = 0; c < d; ++c) {
      keys_t[c * key_cols + j] = head.k[j * head.stride + c];
      if (j < m) queries[j * d + c] = head.q[j * head.stride + c] * scale;  // as the models: (q · scale) · k
      values[j * value_cols + c] = head.v[j * head.stride + c];
    }
  }
  for (int64_t i0 = 0; i0 < query_rows; i0 += kQueryTile) {
    for (int64_t j0 = 0; j0 < key_cols; j0 += kColumnTile) {
      __m256 acc[kQueryTile][2];
      multiply_tile(queries + i0 * d, d, keys_t + j0, key_cols, d, acc);
      for (int64_t ii = 0; ii < kQueryTile; ++ii) {
        _mm256_storeu_ps(scores + (i0 + ii) * key_cols + j0, acc[ii][0]);
        _mm256_storeu_ps(scores + (i0 + ii) * key_cols + j0 + 8, acc[ii][1]);
      }
    }
  }
  for (int64_t i = 0; i < m; ++i) {
    float* row = scores + i * key_cols;
    if (head.bias != nullptr)
      for (int64_t j = 0; j < n; ++j) row[j] += head.bias[i * n + j];
    if (head.region != nullptr)
      for (int64_t j = 0; j < n; ++j) row[j] += head.region[i] != head.region[j] ? kMaskedScore : 0.0f;
    softmax_avx2(row, n);
  }
  for (int64_t i0 = 0; i0 < m; i0 += kQueryTile) {
    for (int64_t c0 = 0; c0 < value_cols; c0 += kColumnTile) {
      __m256 acc[kQueryTile][2];
      multiply_tile(scores + i0 * key_cols, key_cols, values + c0, value_cols, n, acc);
      alignas(32) float tile[kQueryTile][kColumnTile];
      for (int64_t ii = 0; ii < kQueryTile; ++ii) {
        _mm256_store_ps(tile[ii], acc[ii][0]);
        _mm256_store_ps(tile[ii] + 8, acc[ii][1]);
      }
      for (int64_t ii = 0; ii < kQueryTile && i0 + ii < m; ++ii)
        for (int64_t c = c0; c < std::min(c0 + kColumnTile, d); ++c) out[(i0 + ii) * out_stride + c] = tile[ii][c - c0];
    }
  }
}

}  // namespace tervit::kernels

#else  // no x86: never chosen (cpu_has_avx2() is false), but the names must link

namespace tervit::kernels {
void gelu_avx2(const float* x, int64_t count, float* y) { gelu_reference(x, count, y); }
void gelu_backward_avx2(const float* x, const float* grad, int64_t count, float* grad_x) {
  gelu_backward_reference(x, grad, count, grad_x);
}
void layer_norm_row_avx2(const float* in, int64_t dim, const float* weight, const float* bias, float eps, float* out) {
  layer_norm_row_reference(in, dim, weight, bias, eps, out);
}
void softmax_avx2(float* scores, int64_t count) { softmax_reference(scores, count); }
void attention_head_avx2(const AttentionHead& head, float* out, int64_t out_stride) { attention_head_reference(head, out, out_stride); }
}  // namespace tervit::kernels

#endif
