#pragma once
// Attention with both of its products in integers, the runtime's `--attention int8`: Q·Kᵀ from int8
// queries and keys (each row quantized by its own absmax, as the packed products quantize tokens), the
// softmax in float, then P·V from its weights in integers up to 32767 (a row's largest weight, e^0, is the
// top) against int8 values (each channel quantized by its absmax over the tokens), normalized by the sum of
// the integer weights. A 15-bit weight keeps the many small weights of a 197-token softmax that 8 bits
// would round to 0 (below 1/510 of the largest; 196 of them add up to 0.38 of it). With
// AVX-512 VNNI the products run vpdpbusd (64 multiply-adds an instruction) and vpdpwssd (32), where a float
// FMA does 16; elsewhere the plain reference runs, and `--attention float` is the faster choice.
#include <cstdint>

#include "tervit/core/name_table.h"
#include "tervit/kernels/float_ops.h"

namespace tervit::kernels {

enum class AttentionPrecision { kFloat, kInt8 };
const NameTable<AttentionPrecision>& attention_precision_names();  // "float", "int8"

// A row's largest weight: 32767, less above 516 tokens, so that Σ_j weight · value over `tokens` int8
// values fits in 32 bits (127 · top · tokens < 2^31).
int32_t int8_attention_weight_top(int64_t tokens);

// attention_head (float_ops.h) with its products in integers, the best kernel the CPU has.
void int8_attention_head(const AttentionHead& head, float* out, int64_t out_stride);
// The attention kernel of a precision: attention_head or int8_attention_head.
using AttentionKernel = void (*)(const AttentionHead& head, float* out, int64_t out_stride);
AttentionKernel attention_kernel(AttentionPrecision precision);

}  // namespace tervit::kernels
