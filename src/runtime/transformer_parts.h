#pragma once
// Pieces the runtime's DeiT and Swin share: a LayerNorm's parameters, the MLP, and the multi-head
// attention over a qkv buffer.
#include <cstdint>
#include <string>
#include <vector>

#include "tervit/core/scratch_vector.h"
#include "tervit/kernels/float_ops.h"
#include "tervit/kernels/int8_attention.h"
#include "tervit/runtime/linear.h"
#include "tervit/runtime/weight_file.h"

namespace tervit::runtime {

struct Norm {
  std::vector<float> weight, bias;
  float eps = 1e-5f;
  int64_t dim() const { return static_cast<int64_t>(weight.size()); }
  void forward(const float* x, int64_t tokens, float* y) const;
  // x[t] += delta[t], then y[t] = this LayerNorm of x[t], rows in the orders given (kernels::residual_layer_norm).
  void residual_forward(kernels::TokenRows<float> x, kernels::TokenRows<const float> delta, int64_t tokens,
                        kernels::TokenRows<float> y) const;
};
Norm take_norm(WeightFile& file, const std::string& prefix, int64_t dim, float eps);

// fc1, GELU, fc2.
struct Mlp {
  Linear fc1, fc2;
  // y = fc2(gelu(fc1(x))); `hidden` holds tokens x fc1.rows() floats.
  void forward(const float* x, int64_t tokens, float* y, ScratchVector<float>& hidden, kernels::PackedMode mode) const;
};
Mlp take_mlp(WeightFile& file, const std::string& prefix, int64_t dim, int64_t hidden, kernels::PackedBits bits);

// An image (channels x side x side) as patch rows of channels x patch x patch values, in the order of a
// conv weight [out, channels, patch, patch]: the patch embedding becomes one matrix product. `unfolded` is
// resized to them (a caller's buffer, kept from one image to the next).
void unfold_patches(const float* image, int64_t channels, int64_t side, int64_t patch, ScratchVector<float>& unfolded);

// Attention of every head of every group of `tokens` tokens (a DeiT image, a Swin window) over a qkv buffer
// of groups x tokens rows of [q | k | v] (each dim = heads x head_dim wide), into out (groups x tokens x dim).
// bias: per head, tokens x tokens (or null); region: per group, tokens labels (or null): see AttentionHead.
// Each head runs `attention` (float or int8, int8_attention.h). queries > 0: only the first that many tokens'
// outputs are computed (AttentionHead::queries).
void multi_head_attention(const float* qkv, int64_t groups, int64_t tokens, int64_t heads, int64_t dim, const float* bias,
                          const int* region, kernels::AttentionKernel attention, float* out, int64_t queries = 0);

}  // namespace tervit::runtime
