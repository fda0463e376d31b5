#pragma once
// Pieces shared by the AVX-512 kernels (float_ops_avx512.cpp, int8_attention_avx512.cpp,
// ternary_kernels_avx512.cpp), each with its own target attribute as in x86_simd.h.
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "src/kernels/float_kernels.h"
#include "src/kernels/x86_simd.h"

#define TERVIT_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx2,fma")))
#define TERVIT_AVX512_VNNI __attribute__((target("avx2,fma,avx512f,avx512vl,avx512bw,avx512vnni")))

namespace tervit::kernels::x86 {

constexpr int64_t kLanes512 = 16;

// The lanes of a vector that starts at `begin` of `count` values.
TERVIT_AVX512 inline __mmask16 lanes_from(int64_t begin, int64_t count) {
  const int64_t left = count - begin;
  return left >= kLanes512 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << std::max<int64_t>(left, 0)) - 1);
}

// e^x for x <= 0: the AVX2 kernels' exp_nonpositive (x86_simd.h) on 16 lanes, the same operations in the
// same order, so that every kernel rounds alike (a test compares them bit for bit); vscalefps applies 2^n
// (exact, as the AVX2 multiply by 2^n's bits: n >= -126 and the result is never subnormal). Done as two
// 8-lane halves, it took a quarter longer. int8 attention's weights (integers up to 32767) take a
// polynomial of degree 5 (relative error 2.4e-6, below half of one 32767th): 4% of a DeiT head's time.
template <size_t kDegree = std::size(kExpPolynomial) - 1>
TERVIT_AVX512 inline __m512 exp_nonpositive(__m512 x) {
  constexpr size_t kFirst = std::size(kExpPolynomial) - 1 - kDegree;
  x = _mm512_max_ps(x, _mm512_set1_ps(kExpFloor));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2High), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Low), r);
  __m512 p = _mm512_set1_ps(kExpPolynomial[kFirst]);
  for (size_t i = kFirst + 1; i < std::size(kExpPolynomial); ++i) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpPolynomial[i]));
  return _mm512_scalef_ps(p, n);
}

// vpdpbusd (acc += Σ of 4 u8 · s8 products per lane) and vpdpwssd (2 s16 · s16), accumulating in place.
// With their intrinsics and 16 accumulators live, GCC 12 copied each accumulator to another register and
// back around every instruction, and spilled two to the stack on each step; the asm ties them.
TERVIT_AVX512_VNNI inline __m512i dpbusd(__m512i acc, __m512i u8, __m512i s8) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8));
  return acc;
}
TERVIT_AVX512_VNNI inline __m512i dpwssd(__m512i acc, __m512i a, __m512i b) {
  asm("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
  return acc;
}

// round(x · factor), half to even (cvtps under the default rounding mode), as the reference rounds. No
// clamp: factor = 127 / a with a >= every |x| of the row (or a = 1e-5 > every |x|), so |x · factor| is at
// most 127 · (1 + 2^-24)^2 < 127.5 and rounds to at most 127.
TERVIT_AVX512 inline __m512i quantize16(__m512 x, __m512 factor) { return _mm512_cvtps_epi32(_mm512_mul_ps(x, factor)); }

// Lane t of the result: `op` over the 16 lanes of v[t] (v is overwritten). Four rounds, each halving the
// vectors by combining halves, then quarters, pairs and neighbours of two vectors at once, leave row
// k + 4j in lane 4k + j; the last permutation puts it in lane k + 4j.
template <typename Op>
TERVIT_AVX512 inline __m512 reduce_each(__m512 v[kLanes512], Op op) {
  for (int64_t i = 0; i < 8; ++i)
    v[i] = op(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x44), _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xEE));
  for (int64_t i = 0; i < 4; ++i)
    v[i] = op(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x88), _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xDD));
  for (int64_t i = 0; i < 2; ++i) v[i] = op(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
  const __m512 mixed = op(_mm512_shuffle_ps(v[0], v[1], 0x44), _mm512_shuffle_ps(v[0], v[1], 0xEE));
  return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), mixed);
}

// reduce_each's operations: the largest, the float sum, the int32 sum (of lanes that hold int32).
TERVIT_AVX512 inline __m512 max16(__m512 a, __m512 b) { return _mm512_max_ps(a, b); }
TERVIT_AVX512 inline __m512 add16(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }
TERVIT_AVX512 inline __m512 add16_epi32(__m512 a, __m512 b) {
  return _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(a), _mm512_castps_si512(b)));
}

// 16 rows of `cols` floats, `x_stride` apart, each quantized by its own absmax as the reference rounds
// (quantize_run_reference) into a row of `out_stride` bytes, zero from cols to padded_cols (a multiple of
// 16); each row's scale and, unless `sum` is null, the Σ of its bytes. Fewer than 16 rows at the end: the
// last one is repeated and its results stored once. The maxima, factors, scales and sums are computed 16
// at a time, so a row's cost is the pass over its values. A nonzero kFixedVectors is the width in vectors
// (cols = 16 · kFixedVectors), known to the compiler: narrow rows (Swin's patches have 48 values) then run
// without loop overhead.
template <int64_t kFixedVectors>
TERVIT_AVX512 inline void quantize16_rows(const float* x, int64_t x_stride, int64_t count, int64_t cols, int8_t* out,
                                          int64_t out_stride, int64_t padded_cols, float* scale, int32_t* sum) {
  const int64_t vector_cols = kFixedVectors > 0 ? kFixedVectors * kLanes512 : cols / kLanes512 * kLanes512;
  const __mmask16 tail = kFixedVectors > 0 ? 0 : lanes_from(vector_cols, cols);
  const int64_t written = tail ? vector_cols + kLanes512 : vector_cols;
  const __mmask16 stored = lanes_from(0, count);
  const float* row[kLanes512];
  for (int64_t t = 0; t < kLanes512; ++t) row[t] = x + std::min(t, count - 1) * x_stride;
  __m512 lanes[kLanes512];
  for (int64_t t = 0; t < kLanes512; ++t) {
    // max(|x|, running) keeps the running maximum where x is NaN, as std::max in the reference does.
    __m512 absmax = tail ? _mm512_abs_ps(_mm512_maskz_loadu_ps(tail, row[t] + vector_cols)) : _mm512_setzero_ps();
    for (int64_t k = 0; k < vector_cols; k += kLanes512) absmax = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(row[t] + k)), absmax);
    lanes[t] = absmax;
  }
  const __m512 absmax = reduce_each(lanes, max16);
  const __m512 to_int = _mm512_div_ps(_mm512_set1_ps(127.0f), _mm512_max_ps(absmax, _mm512_set1_ps(1e-5f)));
  _mm512_mask_storeu_ps(scale, stored, _mm512_div_ps(_mm512_set1_ps(1.0f), to_int));
  for (int64_t t = 0; t < kLanes512; ++t) {
    const __m512 factor = _mm512_permutexvar_ps(_mm512_set1_epi32(static_cast<int>(t)), to_int);
    int8_t* bytes = out + std::min(t, count - 1) * out_stride;
    __m512i total = _mm512_setzero_si512();
    if (tail) {  // the lanes past cols load as 0 and are stored as 0
      total = quantize16(_mm512_maskz_loadu_ps(tail, row[t] + vector_cols), factor);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(bytes + vector_cols), _mm512_cvtepi32_epi8(total));
    }
    for (int64_t k = 0; k < vector_cols; k += kLanes512) {
      const __m512i integer = quantize16(_mm512_loadu_ps(row[t] + k), factor);
      total = _mm512_add_epi32(total, integer);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(bytes + k), _mm512_cvtepi32_epi8(integer));
    }
    for (int64_t k = written; k < padded_cols; k += kLanes512) _mm_storeu_si128(reinterpret_cast<__m128i*>(bytes + k), _mm_setzero_si128());
    lanes[t] = _mm512_castsi512_ps(total);
  }
  if (sum != nullptr) _mm512_mask_storeu_epi32(sum, stored, _mm512_castps_si512(reduce_each(lanes, add16_epi32)));
}

// A row of attention scores before its softmax: bias (a row of `count`, or null) and Swin's mask (region
// labels of the keys and the query's own, or null) added in place, the lanes past `count` (the row holds
// `count` rounded up to 16) set to -inf; returns the largest score of each lane. Whole vectors are loaded
// and stored: a masked store forwards nothing to the next pass's load, which stalled.
TERVIT_AVX512 inline __m512 biased_scores_max16(float* row, int64_t count, const float* bias, const int* region, int own_region) {
  const __m512 masked_score = _mm512_set1_ps(kMaskedScore);
  __m512 largest = _mm512_set1_ps(-INFINITY);
  for (int64_t j = 0; j < count; j += kLanes512) {
    const __mmask16 lanes = lanes_from(j, count);
    __m512 scores = _mm512_loadu_ps(row + j);
    if (bias != nullptr) scores = _mm512_add_ps(scores, _mm512_maskz_loadu_ps(lanes, bias + j));
    if (region != nullptr) {
      const __mmask16 other = _mm512_mask_cmpneq_epi32_mask(lanes, _mm512_maskz_loadu_epi32(lanes, region + j), _mm512_set1_epi32(own_region));
      scores = _mm512_mask_add_ps(scores, other, scores, masked_score);
    }
    scores = _mm512_mask_mov_ps(_mm512_set1_ps(-INFINITY), lanes, scores);
    _mm512_storeu_ps(row + j, scores);
    largest = _mm512_max_ps(largest, scores);
  }
  return largest;
}

// The same, returning the row's largest score.
TERVIT_AVX512 inline float biased_scores_max(float* row, int64_t count, const float* bias, const int* region, int own_region) {
  return _mm512_reduce_max_ps(biased_scores_max16(row, count, bias, region, own_region));
}

}  // namespace tervit::kernels::x86

#endif
