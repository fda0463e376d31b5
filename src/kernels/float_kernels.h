#pragma once
// The kernels behind float_ops.h, each a plain reference and an AVX2 + FMA version of the same signature
// (as the packed kernels), GELU and attention an AVX-512 one too, chosen at run time by what the CPU has.
#include <cstdint>
#include <iterator>

#include "tervit/kernels/float_ops.h"

namespace tervit::kernels {

// gelu and gelu_backward (float_ops.h), through Φ(x) = 1/2 + sign(x) · H(|x|) (HalfErf below): GELU(x) =
// x/2 + |x| · H(|x|). The gradient adds the normal density, one exponential.
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

// H(a) = erf(a / √2) / 2 for a >= 0: a polynomial of degree 6 in t = a - 0.75 k on each piece k of [0, 6]
// (8 of them: one 8-lane table lookup a coefficient), absolute error below 6e-8 in float; past 6, H is 1/2
// to float's precision, so a is clamped there. tools/fit_half_erf.py fits the table: row i holds the
// coefficients of t^(6 - i), one a piece. Against the erf of Abramowitz and Stegun 7.1.26 that it replaced
// (a division, an exponential and a degree-5 polynomial), GELU takes 0.61x the time, and its error against
// LibTorch's went from 4.6e-7 to 3.2e-7.
struct HalfErf {
  static constexpr int kPieces = 8;
  static constexpr float kWidth = 0.75f, kPiecesPerUnit = 1.0f / 0.75f, kEnd = 6.0f;
  alignas(32) static constexpr float kCoefficients[7][kPieces] = {
      {-2.550055739e-03f, -1.299611991e-03f, 1.353841275e-03f, 3.097110312e-04f,
       -1.889087434e-04f, -6.320491957e-05f, -6.759036296e-06f, -3.239161401e-07f},
      {1.232014410e-02f, -2.155843657e-03f, -6.327498239e-03f, 2.165290498e-04f,
       1.146401279e-03f, 2.752699365e-04f, 2.579897409e-05f, 1.142920723e-06f},
      {-1.115160761e-03f, 2.400830761e-02f, 6.241115741e-03f, -6.474912167e-03f,
       -3.333889646e-03f, -5.767202238e-04f, -4.570731107e-05f, -1.817721227e-06f},
      {-6.621220708e-02f, -2.224433422e-02f, 2.694814838e-02f, 2.157734521e-02f,
       5.910353269e-03f, 7.592591573e-04f, 4.980815720e-05f, 1.731848897e-06f},
      {-3.349122562e-05f, -1.128903553e-01f, -9.713467211e-02f, -3.571782261e-02f,
       -6.647815462e-03f, -6.600898341e-04f, -3.578716132e-05f, -1.072454211e-06f},
      {3.989438117e-01f, 3.011357188e-01f, 1.295174509e-01f, 3.174014762e-02f,
       4.431847017e-03f, 3.525482025e-04f, 1.597573282e-05f, 4.123413078e-07f},
      {-1.141269301e-08f, 2.733726501e-01f, 4.331927896e-01f, 4.877755344e-01f,
       4.986501038e-01f, 4.999115765e-01f, 4.999966025e-01f, 4.999999106e-01f}};
};
// 1 / √2: the normal density's e^(-x²/2) is e^(-z²) for z = x / √2.
constexpr float kInvSqrt2 = 0.70710678f;

// 1 / √(2π), the standard normal density at 0.
constexpr float kInvSqrt2Pi = 0.398942280f;

// The shifted-window mask's score for a pair of tokens of different regions (timm's constant).
constexpr float kMaskedScore = -100.0f;

}  // namespace tervit::kernels
