// AVX-512 GELU, LayerNorm and attention (float_kernels.h). GELU is the AVX2 kernel on 16 lanes: a quarter faster on
// Zen 4 (137 against 182 µs for a deit_small MLP's 197 x 1536 values). Attention is fused per block of 8
// queries: their scores against every key, the softmax, then their outputs, so that only 8 rows of scores
// exist at a time and stay in L1. Register tiles of 8 queries x 32 keys (scores) and 8 queries x 32
// channels (outputs) keep 16 accumulators over the whole inner sum, for 2 vector loads and 8 broadcasts per
// 16 FMAs. Only K is copied (transposed); V is read in place, with masked loads where a head's width is not
// a multiple of 16.
#include <algorithm>
#include <cmath>
#include <vector>

#include "src/kernels/float_kernels.h"
#include "src/kernels/round_up.h"
#include "src/kernels/x86_simd512.h"
#include "tervit/kernels/ternary_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
namespace tervit::kernels {

namespace {

constexpr int64_t kQueryBlock = 8;
constexpr int64_t kLanes = x86::kLanes512;
using x86::lanes_from;

// One row of scores (bias and Swin's mask added, biased_scores_max), then its softmax, in place; the lanes
// past `count` end at 0.
TERVIT_AVX512 void softmax_row(float* row, int64_t count, const float* bias, const int* region, int own_region) {
  const __m512 shift = _mm512_set1_ps(x86::biased_scores_max(row, count, bias, region, own_region));
  __m512 sum16 = _mm512_setzero_ps();
  for (int64_t j = 0; j < count; j += kLanes) {
    const __m512 e = _mm512_maskz_mov_ps(lanes_from(j, count), x86::exp_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(row + j), shift)));
    _mm512_storeu_ps(row + j, e);
    sum16 = _mm512_add_ps(sum16, e);
  }
  const __m512 inverse = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum16));
  for (int64_t j = 0; j < count; j += kLanes) _mm512_storeu_ps(row + j, _mm512_mul_ps(_mm512_loadu_ps(row + j), inverse));
}

// c[i][16v .. 16v+16) = Σ_t a[i][t] · b[t][16v .. 16v+16) for the 8 rows of a (a_stride apart) and `depth`
// rows of b (b_stride apart), over 1 or 2 vectors of columns; only the lanes in the two masks are read from b and
// stored to c, all 8 rows of it. The sums are one flat array under fully unrolled loops: as a nested array,
// or with a condition on the stores, GCC 12 at -O3 kept them in memory and wrote all 16 back on every step,
// which halved the speed.
template <int Vectors>
TERVIT_AVX512 inline void multiply_block(const float* a, int64_t a_stride, const float* b, int64_t b_stride, int64_t depth,
                                         __mmask16 first_lanes, __mmask16 second_lanes, float* c, int64_t c_stride) {
  __m512 acc[kQueryBlock * Vectors];
#pragma GCC unroll 16
  for (int k = 0; k < kQueryBlock * Vectors; ++k) acc[k] = _mm512_setzero_ps();
  for (int64_t t = 0; t < depth; ++t) {
    const __m512 row0 = _mm512_maskz_loadu_ps(first_lanes, b + t * b_stride);
    const __m512 row1 = Vectors == 2 ? _mm512_maskz_loadu_ps(second_lanes, b + t * b_stride + kLanes) : row0;
#pragma GCC unroll 8
    for (int i = 0; i < kQueryBlock; ++i) {
      const __m512 weight = _mm512_set1_ps(a[i * a_stride + t]);
      acc[i * Vectors] = _mm512_fmadd_ps(weight, row0, acc[i * Vectors]);
      if (Vectors == 2) acc[i * Vectors + 1] = _mm512_fmadd_ps(weight, row1, acc[i * Vectors + 1]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < kQueryBlock; ++i) {
    _mm512_mask_storeu_ps(c + i * c_stride, first_lanes, acc[i * Vectors]);
    if (Vectors == 2) _mm512_mask_storeu_ps(c + i * c_stride + kLanes, second_lanes, acc[i * Vectors + 1]);
  }
}

// c[i][0 .. count) = a · b for 8 rows, 32 columns at a time, then 16.
TERVIT_AVX512 void multiply_rows(const float* a, int64_t a_stride, const float* b, int64_t b_stride, int64_t depth, int64_t count,
                                 float* c, int64_t c_stride) {
  int64_t c0 = 0;
  for (; c0 + kLanes < count; c0 += 2 * kLanes)
    multiply_block<2>(a, a_stride, b + c0, b_stride, depth, lanes_from(c0, count), lanes_from(c0 + kLanes, count), c + c0, c_stride);
  if (c0 < count) multiply_block<1>(a, a_stride, b + c0, b_stride, depth, lanes_from(c0, count), 0, c + c0, c_stride);
}

// half_erf of float_ops_avx2.cpp on 16 lanes: each row of the table in a vector's low half (indices 0-7).
TERVIT_AVX512 inline __m512 half_erf(__m512 a) {
  a = _mm512_min_ps(a, _mm512_set1_ps(HalfErf::kEnd));
  const __m512 scaled = _mm512_mul_ps(a, _mm512_set1_ps(HalfErf::kPiecesPerUnit));
  const __m512 piece =
      _mm512_min_ps(_mm512_roundscale_ps(scaled, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC), _mm512_set1_ps(HalfErf::kPieces - 1));
  const __m512i k = _mm512_cvttps_epi32(piece);
  const __m512 t = _mm512_fnmadd_ps(piece, _mm512_set1_ps(HalfErf::kWidth), a);
  __m512 h = _mm512_permutexvar_ps(k, _mm512_castps256_ps512(_mm256_load_ps(HalfErf::kCoefficients[0])));
  for (size_t i = 1; i < std::size(HalfErf::kCoefficients); ++i)
    h = _mm512_fmadd_ps(h, t, _mm512_permutexvar_ps(k, _mm512_castps256_ps512(_mm256_load_ps(HalfErf::kCoefficients[i]))));
  return h;
}

// magnitude (sign bit clear) with the sign of `sign` (integer logic: the float forms need AVX-512 DQ).
TERVIT_AVX512 inline __m512 with_sign(__m512 magnitude, __m512 sign) {
  const __m512i sign_bit = _mm512_and_si512(_mm512_castps_si512(sign), _mm512_set1_epi32(INT32_MIN));
  return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(magnitude), sign_bit));
}

}  // namespace

// The last values (fewer than 16) go through the AVX2 kernels, which give the same bits.
TERVIT_AVX512 void gelu_avx512(const float* x, int64_t count, float* y) {
  int64_t i = 0;
  for (; i + kLanes <= count; i += kLanes) {
    const __m512 v = _mm512_loadu_ps(x + i), a = _mm512_abs_ps(v);
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(a, half_erf(a), _mm512_mul_ps(v, _mm512_set1_ps(0.5f))));
  }
  gelu_avx2(x + i, count - i, y + i);
}

TERVIT_AVX512 void gelu_backward_avx512(const float* x, const float* grad, int64_t count, float* grad_x) {
  int64_t i = 0;
  for (; i + kLanes <= count; i += kLanes) {
    const __m512 v = _mm512_loadu_ps(x + i), a = _mm512_abs_ps(v);
    const __m512 z = _mm512_mul_ps(a, _mm512_set1_ps(kInvSqrt2));
    const __m512 gaussian = x86::exp_nonpositive(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), z), z));
    const __m512 cdf = _mm512_add_ps(_mm512_set1_ps(0.5f), with_sign(half_erf(a), v));
    const __m512 slope = _mm512_fmadd_ps(_mm512_mul_ps(v, gaussian), _mm512_set1_ps(kInvSqrt2Pi), cdf);
    _mm512_storeu_ps(grad_x + i, _mm512_mul_ps(_mm512_loadu_ps(grad + i), slope));
  }
  gelu_backward_avx2(x + i, grad + i, count - i, grad_x + i);
}

// The AVX2 kernel's two passes on 16 lanes for 16 rows, each pass's 16 sums reduced together
// (x86::reduce_each); fewer rows leave the other lanes' sums those of the last row. With `residual`, the
// first pass adds delta and stores the sum, which the later passes read.
TERVIT_AVX512 void layer_norm_rows_avx512(const NormRows& rows, int64_t dim, const float* weight, const float* bias, float eps) {
  const int64_t vector_end = dim / kLanes * kLanes;
  const __mmask16 tail = lanes_from(vector_end, dim);
  const float* row[kLanes];
  __m512 lanes[kLanes];
  for (int64_t t = 0; t < rows.count; ++t) {
    __m512 sum = _mm512_maskz_loadu_ps(tail, rows.in[t] + vector_end);
    if (rows.residual) {
      sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps(tail, rows.delta[t] + vector_end));
      _mm512_mask_storeu_ps(rows.sum[t] + vector_end, tail, sum);
      for (int64_t i = 0; i < vector_end; i += kLanes) {
        const __m512 v = _mm512_add_ps(_mm512_loadu_ps(rows.in[t] + i), _mm512_loadu_ps(rows.delta[t] + i));
        _mm512_storeu_ps(rows.sum[t] + i, v);
        sum = _mm512_add_ps(sum, v);
      }
      row[t] = rows.sum[t];
    } else {
      for (int64_t i = 0; i < vector_end; i += kLanes) sum = _mm512_add_ps(sum, _mm512_loadu_ps(rows.in[t] + i));
      row[t] = rows.in[t];
    }
    lanes[t] = sum;
  }
  for (int64_t t = rows.count; t < kLanes; ++t) lanes[t] = lanes[rows.count - 1];
  const __m512 width = _mm512_set1_ps(static_cast<float>(dim));
  const __m512 mean = _mm512_div_ps(x86::reduce_each(lanes, x86::add16), width);
  for (int64_t t = 0; t < rows.count; ++t) {
    const __m512 mean_t = _mm512_permutexvar_ps(_mm512_set1_epi32(static_cast<int>(t)), mean);
    const __m512 last = _mm512_maskz_sub_ps(tail, _mm512_maskz_loadu_ps(tail, row[t] + vector_end), mean_t);
    __m512 squares = _mm512_mul_ps(last, last);
    for (int64_t i = 0; i < vector_end; i += kLanes) {
      const __m512 deviation = _mm512_sub_ps(_mm512_loadu_ps(row[t] + i), mean_t);
      squares = _mm512_fmadd_ps(deviation, deviation, squares);
    }
    lanes[t] = squares;
  }
  for (int64_t t = rows.count; t < kLanes; ++t) lanes[t] = lanes[rows.count - 1];
  const __m512 variance = _mm512_div_ps(x86::reduce_each(lanes, x86::add16), width);
  const __m512 inv_std = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_sqrt_ps(_mm512_add_ps(variance, _mm512_set1_ps(eps))));
  for (int64_t t = 0; t < rows.count; ++t) {
    const __m512 mean_t = _mm512_permutexvar_ps(_mm512_set1_epi32(static_cast<int>(t)), mean);
    const __m512 inv_std_t = _mm512_permutexvar_ps(_mm512_set1_epi32(static_cast<int>(t)), inv_std);
    float* out = rows.out[t];
    for (int64_t i = 0; i < vector_end; i += kLanes) {
      const __m512 normalized = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(row[t] + i), mean_t), inv_std_t);
      _mm512_storeu_ps(out + i, _mm512_fmadd_ps(normalized, _mm512_loadu_ps(weight + i), _mm512_loadu_ps(bias + i)));
    }
    if (tail) {
      const __m512 normalized = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, row[t] + vector_end), mean_t), inv_std_t);
      const __m512 scaled = _mm512_fmadd_ps(normalized, _mm512_maskz_loadu_ps(tail, weight + vector_end),
                                            _mm512_maskz_loadu_ps(tail, bias + vector_end));
      _mm512_mask_storeu_ps(out + vector_end, tail, scaled);
    }
  }
}

TERVIT_AVX512 void attention_head_avx512(const AttentionHead& head, float* out, int64_t out_stride) {
  const int64_t n = head.tokens, d = head.head_dim, key_cols = round_up(n, kLanes);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  // K transposed (d x key_cols), one block's scaled queries (8 x d), its scores (8 x key_cols) and, for the
  // last block when it has fewer than 8 rows, its outputs (8 x d). Query rows past the last token are zero,
  // so their scores are zero and the 8-row products read only finite values; nothing else is zero-filled.
  thread_local std::vector<float> buffer;
  buffer.resize(static_cast<size_t>(d * key_cols + 2 * kQueryBlock * d + kQueryBlock * key_cols));
  float* keys_t = buffer.data();
  float* queries = keys_t + d * key_cols;
  float* scores = queries + kQueryBlock * d;
  float* last_outputs = scores + kQueryBlock * key_cols;
  // K's columns gathered 16 keys at a time (a scalar transposition took a quarter of a Swin window's time),
  // the columns past the last key zero.
  const __m512i key_offsets = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                                 _mm512_set1_epi32(static_cast<int>(head.stride)));
  for (int64_t j0 = 0; j0 < n; j0 += kLanes) {
    const __mmask16 keys = lanes_from(j0, n);
    const float* column = head.k + j0 * head.stride;
    for (int64_t c = 0; c < d; ++c)
      _mm512_storeu_ps(keys_t + c * key_cols + j0, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), keys, key_offsets, column + c, 4));
  }
  const __m512 scale16 = _mm512_set1_ps(scale);
  const int64_t m = head.query_count();
  for (int64_t i0 = 0; i0 < m; i0 += kQueryBlock) {
    const int64_t rows = std::min(kQueryBlock, m - i0);
    for (int64_t i = 0; i < kQueryBlock; ++i)
      for (int64_t c = 0; c < d; c += kLanes) {
        const __mmask16 lanes = i < rows ? lanes_from(c, d) : 0;  // (q · scale) · k, as the models
        _mm512_mask_storeu_ps(queries + i * d + c, lanes_from(c, d),
                              _mm512_mul_ps(_mm512_maskz_loadu_ps(lanes, head.q + (i0 + i) * head.stride + c), scale16));
      }
    // Whole vectors of keys (K's padding columns are zero): unmasked stores, which the softmax's loads can
    // forward from.
    multiply_rows(queries, d, keys_t, key_cols, d, key_cols, scores, key_cols);
    for (int64_t i = 0; i < rows; ++i)
      softmax_row(scores + i * key_cols, n, head.bias != nullptr ? head.bias + (i0 + i) * n : nullptr, head.region,
                  head.region != nullptr ? head.region[i0 + i] : 0);
    if (rows == kQueryBlock) {
      multiply_rows(scores, key_cols, head.v, head.stride, n, d, out + i0 * out_stride, out_stride);
    } else {
      multiply_rows(scores, key_cols, head.v, head.stride, n, d, last_outputs, d);
      for (int64_t i = 0; i < rows; ++i) std::copy(last_outputs + i * d, last_outputs + (i + 1) * d, out + (i0 + i) * out_stride);
    }
  }
}

bool cpu_has_avx512() {
  return cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512bw");
}

}  // namespace tervit::kernels

#else  // no x86: never chosen (cpu_has_avx512() is false), but the names must link

namespace tervit::kernels {
void gelu_avx512(const float* x, int64_t count, float* y) { gelu_reference(x, count, y); }
void gelu_backward_avx512(const float* x, const float* grad, int64_t count, float* grad_x) {
  gelu_backward_reference(x, grad, count, grad_x);
}
void attention_head_avx512(const AttentionHead& head, float* out, int64_t out_stride) { attention_head_reference(head, out, out_stride); }
void layer_norm_rows_avx512(const NormRows& rows, int64_t dim, const float* weight, const float* bias, float eps) {
  layer_norm_rows_reference(rows, dim, weight, bias, eps);
}
bool cpu_has_avx512() { return false; }
}  // namespace tervit::kernels

#endif
