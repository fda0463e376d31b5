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
// same order, so that every kernel rounds alike (a test compares them bit for bit). Done as two 8-lane
// halves, it took a quarter longer.
TERVIT_AVX512 inline __m512 exp_nonpositive(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(kExpFloor));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2High), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Low), r);
  __m512 p = _mm512_set1_ps(kExpPolynomial[0]);
  for (size_t i = 1; i < std::size(kExpPolynomial); ++i) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpPolynomial[i]));
  const __m512i exponent = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(p, _mm512_castsi512_ps(exponent));
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

// A row of attention scores before its softmax: bias (a row of `count`, or null) and Swin's mask (region
// labels of the keys and the query's own, or null) added in place, the lanes past `count` (the row holds
// `count` rounded up to 16) set to -inf; returns the row's largest score. Whole vectors are loaded and
// stored: a masked store forwards nothing to the next pass's load, which stalled.
TERVIT_AVX512 inline float biased_scores_max(float* row, int64_t count, const float* bias, const int* region, int own_region) {
  const __m512 masked_score = _mm512_set1_ps(kMaskedScore);
  __m512 max16 = _mm512_set1_ps(-INFINITY);
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
    max16 = _mm512_max_ps(max16, scores);
  }
  return _mm512_reduce_max_ps(max16);
}

}  // namespace tervit::kernels::x86

#endif
