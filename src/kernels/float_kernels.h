#pragma once
// The kernels behind float_ops.h, each a plain reference and an AVX2 + FMA version of the same signature
// (as the packed kernels), GELU and attention an AVX-512 one too, chosen at run time by what the CPU has.
#include <cstdint>
#include <iterator>

#include "tervit/kernels/float_ops.h"

namespace tervit::kernels {

// gelu and gelu_backward (float_ops.h), Φ through Abramowitz and Stegun 7.1.26's erf (absolute error below
// 1.5e-7), the approximation LibTorch's vectorized CPU erf uses as well. Its exp(-x²/2) is also the
// normal density's, so the gradient costs one exponential too.
// The AVX-512 versions run the AVX2 ones' operations on 16 lanes and give the same bits.
void gelu_reference(const float* x, int64_t count, float* y);
void gelu_avx2(const float* x, int64_t count, float* y);
void gelu_avx512(const float* x, int64_t count, float* y);
void gelu_backward_reference(const float* x, const float* grad, int64_t count, float* grad_x);
void gelu_backward_avx2(const float* x, const float* grad, int64_t count, float* grad_x);
void gelu_backward_avx512(const float* x, const float* grad, int64_t count, float* grad_x);

// LayerNorm of one row of `dim` values (biased variance, as LibTorch). The reference sums in double; the
// AVX2 version sums in 8 float lanes, two passes (mean, then squared deviations), as LibTorch's CPU kernel
// does in float. It was 7% of deit_small's time at batch 1 in double.
void layer_norm_row_reference(const float* in, int64_t dim, const float* weight, const float* bias, float eps, float* out);
void layer_norm_row_avx2(const float* in, int64_t dim, const float* weight, const float* bias, float eps, float* out);
// Up to 16 rows by pointer: out[t] = LayerNorm(in[t] + delta[t]), the sum stored in sum[t] (which may be
// in[t]); without `residual`, out[t] = LayerNorm(in[t]) and delta and sum are not read. out[t] may be in[t].
struct NormRows {
  static constexpr int64_t kMax = 16;
  const float* in[kMax];
  const float* delta[kMax];
  float* sum[kMax];
  float* out[kMax];
  int64_t count = 0;
  bool residual = false;
};
// The row kernels above one row after another, and the AVX-512 one: their passes on 16 lanes for 16 rows
// at a time, the rows' sums reduced together (row by row, Swin's short rows waited on each reduction).
void layer_norm_rows_reference(const NormRows& rows, int64_t dim, const float* weight, const float* bias, float eps);
void layer_norm_rows_avx2(const NormRows& rows, int64_t dim, const float* weight, const float* bias, float eps);
void layer_norm_rows_avx512(const NormRows& rows, int64_t dim, const float* weight, const float* bias, float eps);

// Softmax of `count` scores in place.
void softmax_reference(float* scores, int64_t count);
void softmax_avx2(float* scores, int64_t count);

// attention_head (float_ops.h).
void attention_head_reference(const AttentionHead& head, float* out, int64_t out_stride);
void attention_head_avx2(const AttentionHead& head, float* out, int64_t out_stride);
void attention_head_avx512(const AttentionHead& head, float* out, int64_t out_stride);

// Abramowitz and Stegun 7.1.26: erf(z) ≈ 1 - t · P(t) · e^(-z²) for z >= 0, t = 1 / (1 + p · z), P's
// coefficients from the highest power down. Every GELU kernel reads them here.
constexpr float kErfP = 0.3275911f;
constexpr float kErfPolynomial[] = {1.061405429f, -1.453152027f, 1.421413741f, -0.284496736f, 0.254829592f};
// 1 / √2, erf's argument for Φ(x) = (1 + erf(x / √2)) / 2.
constexpr float kInvSqrt2 = 0.70710678f;

// 1 / √(2π), the standard normal density at 0.
constexpr float kInvSqrt2Pi = 0.398942280f;

// The shifted-window mask's score for a pair of tokens of different regions (timm's constant).
constexpr float kMaskedScore = -100.0f;

}  // namespace tervit::kernels
