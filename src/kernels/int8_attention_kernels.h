#pragma once
// The kernels behind int8_attention_head (int8_attention.h): a plain reference and an AVX-512 VNNI version
// of the same signature. They compute the same integers; their floats differ where the fast kernel's
// exponential (a polynomial, against std::exp) moves a weight across a rounding half, by one 32767th of it.
#include <cstdint>

#include "tervit/kernels/float_ops.h"

namespace tervit::kernels {

void int8_attention_head_reference(const AttentionHead& head, float* out, int64_t out_stride);
void int8_attention_head_avx512_vnni(const AttentionHead& head, float* out, int64_t out_stride);

}  // namespace tervit::kernels
