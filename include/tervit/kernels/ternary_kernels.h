#pragma once
// Matrix products with packed ternary weights, y = x W^T (W: rows x cols trits, α per row), computed
// without ever expanding W into a float matrix. Each kernel has a plain reference written as the
// formula reads and fast versions of the same signature (AVX2 + FMA; for int8 also AVX-512 VNNI),
// compiled through function attributes, so the build needs no global -mavx2, and chosen at run time
// by what the CPU has.
// A kernel computes the output rows [row_begin, row_end) for every token: callers split rows across
// threads.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "tervit/core/scratch_vector.h"
#include "tervit/kernels/packed_matrix.h"

namespace tervit::kernels {

// Exact mode, float activations: y[n][r] = α_r · (Σ x[n][k] where t[r][k] = +1 − Σ x[n][k] where
// t[r][k] = −1) + bias[r]. x is tokens x cols, y is tokens x rows, both row-major.
using ExactKernel = void (*)(const PackedTernaryMatrix& w, const float* x, int64_t tokens, int64_t row_begin,
                             int64_t row_end, float* y);
void exact_kernel_reference(const PackedTernaryMatrix& w, const float* x, int64_t tokens, int64_t row_begin,
                            int64_t row_end, float* y);
void exact_kernel_avx2(const PackedTernaryMatrix& w, const float* x, int64_t tokens, int64_t row_begin,
                       int64_t row_end, float* y);

// Activations quantized per token to int8 as BitNet does (absmax: q = round(x · 127 / max|x|)).
// Each token's row is quantized_stride(cols) bytes: its values, then zeros up to the next multiple of 64.
// No kernel reads past that, so a matrix's 128-trit blocks never make a token touch a cache line its
// values do not fill.
inline int64_t quantized_stride(int64_t cols) { return (cols + 63) / 64 * 64; }
struct QuantizedTokens {
  int64_t tokens = 0;
  int64_t stride = 0;           // quantized_stride(cols): values past cols are 0
  ScratchVector<int8_t> values;   // tokens x stride
  ScratchVector<float> scale;     // x ≈ q · scale, per token
  ScratchVector<int32_t> sum;     // Σ q per token: the fast kernels' offset correction
};
// x is tokens x cols, row-major; runs of tokens are quantized in parallel by the best of the quantizers
// below (equal results). The second form reuses `out`'s buffers: a layer called again and
// again allocates (and faults in) nothing after the first call.
QuantizedTokens quantize_tokens(const float* x, int64_t tokens, int64_t cols);
void quantize_tokens(const float* x, int64_t tokens, int64_t cols, QuantizedTokens& out);
// 1.5 · 2^23, and its bits: a float near it holds an integer of magnitude below 2^22 exactly in the low
// bits of its mantissa, so adding it rounds a float to an integer and subtracting it turns such bits into
// the integer's float, both without a conversion instruction.
constexpr float kIntegerMagic = 12582912.0f;
constexpr int32_t kIntegerMagicBits = 0x4B400000;
// One activation as the token quantizers round it: clamp(x · to_int, ±127), then to the nearest integer,
// half to even as torch.round does (|value| <= 127, so the magic constant rounds it without a libm call).
inline int8_t quantize_value(float x, float to_int) {
  const float value = std::clamp(x * to_int, -127.0f, 127.0f);
  return static_cast<int8_t>((value + kIntegerMagic) - kIntegerMagic);
}
// One run of `count` activations x[i · step] quantized by its absmax into values[i · value_step], each as
// quantize_value rounds it; returns the run's scale (x ≈ q · scale). The reference quantizers of tokens
// and of attention's operands (whose value channels are strided columns) share it.
float quantize_run_reference(const float* x, int64_t count, int64_t step, int8_t* values, int64_t value_step);
// A run of tokens (x: tokens x cols, row-major): row n at values + n · stride, its values in [0, cols) and
// zeros in [cols, quantized_stride(cols)) (bytes past that are left alone; stride is at least that), its
// scale and Σ values at scale[n] and sum[n].
using TokenQuantizer = void (*)(const float* x, int64_t tokens, int64_t cols, int64_t stride, int8_t* values, float* scale,
                                int32_t* sum);
void quantize_tokens_reference(const float* x, int64_t tokens, int64_t cols, int64_t stride, int8_t* values, float* scale,
                               int32_t* sum);
void quantize_tokens_avx2(const float* x, int64_t tokens, int64_t cols, int64_t stride, int8_t* values, float* scale,
                          int32_t* sum);
// 16 tokens at a time. Needs AVX-512 F, BW and VL, which every CPU that runs the VNNI kernel has.
void quantize_tokens_avx512(const float* x, int64_t tokens, int64_t cols, int64_t stride, int8_t* values, float* scale,
                            int32_t* sum);

// Int8 mode (W2A8): y[n][r] = α_r · scale[n] · (Σ_k t[r][k] · q[n][k]) + bias[r], the sum in integers.
using Int8Kernel = void (*)(const PackedTernaryMatrix& w, const QuantizedTokens& q, int64_t row_begin, int64_t row_end,
                            float* y);
void int8_kernel_reference(const PackedTernaryMatrix& w, const QuantizedTokens& q, int64_t row_begin, int64_t row_end,
                           float* y);
void int8_kernel_avx2(const PackedTernaryMatrix& w, const QuantizedTokens& q, int64_t row_begin, int64_t row_end,
                      float* y);
void int8_kernel_avx512_vnni(const PackedTernaryMatrix& w, const QuantizedTokens& q, int64_t row_begin, int64_t row_end,
                             float* y);

// The one output formula of int8 mode, shared by both kernels so that equal integer sums give equal
// outputs.
inline float int8_output(int32_t dot, float alpha, float token_scale, float bias) {
  return static_cast<float>(dot) * (alpha * token_scale) + bias;
}

// Whether this CPU runs the AVX2 kernels (AVX2 and FMA), the AVX-512 float ones (AVX-512 F, VL and BW
// besides) and the AVX-512 VNNI one (VNNI besides those); the reference kernels run everywhere.
bool cpu_has_avx2();
bool cpu_has_avx512();
bool cpu_has_avx512_vnni();
ExactKernel best_exact_kernel();
Int8Kernel best_int8_kernel();
TokenQuantizer best_token_quantizer();

}  // namespace tervit::kernels
