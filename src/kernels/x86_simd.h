#pragma once
// Pieces shared by the x86 kernels (ternary_kernels_*.cpp, float_ops_*.cpp). Each carries
// target("avx2,fma"), so the build needs no global -mavx2; a caller compiled for a superset (the AVX-512
// kernels) inlines them.
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <iterator>

#include "tervit/kernels/packed_blocks.h"

#define TERVIT_AVX2 __attribute__((target("avx2,fma")))

namespace tervit::kernels::x86 {

// Tokens per chunk, a multiple of `tile`: about `budget` bytes of activations (by default 128 KB), which
// L2 holds while the rows pass.
inline int64_t chunk_tokens(int64_t bytes_per_token, int64_t tile, int64_t budget = 131072) {
  return std::max<int64_t>(tile, budget / std::max<int64_t>(bytes_per_token, 1) / tile * tile);
}

// e^x for x <= 0: 2^n · e^r with |r| <= ln2/2 and a degree-6 polynomial (relative error about 2e-7). Below
// -87 it returns about 1e-38 rather than 0, which no softmax sum notices. Its constants, shared with the
// 512-bit version (x86_simd512.h): ln 2 in two parts (the high one exact in float, so n · high has no
// rounding error), and the Taylor coefficients from 1/6! down.
constexpr float kExpFloor = -87.0f;
constexpr float kLog2E = 1.44269504f;
constexpr float kLn2High = 0.693145752f, kLn2Low = 1.42860677e-6f;
constexpr float kExpPolynomial[] = {1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f, 1.0f};
TERVIT_AVX2 inline __m256 exp_nonpositive(__m256 x) {
  x = _mm256_max_ps(x, _mm256_set1_ps(kExpFloor));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2High), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Low), r);
  __m256 p = _mm256_set1_ps(kExpPolynomial[0]);
  for (size_t i = 1; i < std::size(kExpPolynomial); ++i) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpPolynomial[i]));
  const __m256i exponent = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(exponent));
}

// Lane i of the result is the sum of the lanes of v[i]: 8 horizontal sums at once.
TERVIT_AVX2 inline __m256 sum_each(const __m256 v[8]) {
  const __m256 a = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
  const __m256 b = _mm256_hadd_ps(_mm256_hadd_ps(v[4], v[5]), _mm256_hadd_ps(v[6], v[7]));
  return _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
}

TERVIT_AVX2 inline __m256i sum_each(const __m256i v[8]) {
  const __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
  const __m256i b = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
  return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}

// Codes 32i .. 32i+31 of a block (each t + 1: 0, 1 or 2), one per byte: one shift and mask.
TERVIT_AVX2 inline __m256i block_codes(const Block2Bit& block, int64_t i) {
  const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block.codes));
  return _mm256_and_si256(_mm256_srl_epi16(packed, _mm_cvtsi32_si128(static_cast<int>(2 * i))), _mm256_set1_epi8(3));
}

}  // namespace tervit::kernels::x86

#endif
