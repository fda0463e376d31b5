#pragma once
// The float operations of a ViT forward pass without LibTorch, on row-major float32 buffers: what the
// LibTorch-free runtime runs between its matrix products. Each follows the LibTorch operation the models
// use (LayerNorm, erf GELU, softmax, scaled dot-product attention) up to float reassociation; each runs
// AVX2 + FMA kernels where the CPU has them, and LayerNorm, GELU and attention AVX-512 ones where it has
// that (float_kernels.h).
#include <cstdint>

namespace tervit::kernels {

// y[n] = (x[n] - mean) / sqrt(var + eps) * weight + bias for each of `tokens` rows of `dim` values.
// y may be x.
void layer_norm(const float* x, int64_t tokens, int64_t dim, const float* weight, const float* bias, float eps, float* y);

// Row t of a buffer of rows `dim` values long, in the order `index` gives (row index[t]; null: row t).
template <typename T>
struct TokenRows {
  T* base = nullptr;
  const int64_t* index = nullptr;
  T* row(int64_t t, int64_t dim) const { return base + (index != nullptr ? index[t] : t) * dim; }
};
// x[t] += delta[t], then y[t] = LayerNorm(x[t]) for each of `tokens` rows: a residual sum and the LayerNorm
// after it in one pass, the orders gathering and scattering Swin's windows on the way. With a null
// delta.base, only the LayerNorm (x is not written). y's rows may be x's.
void residual_layer_norm(TokenRows<float> x, TokenRows<const float> delta, int64_t tokens, int64_t dim, const float* weight,
                         const float* bias, float eps, TokenRows<float> y);

// y = x · Φ(x) (the exact, erf form of torch::gelu) for `count` values; y may be x.
void gelu(const float* x, int64_t count, float* y);
// Its gradient: grad_x = grad · (Φ(x) + x · φ(x)), φ the standard normal density; grad_x may be grad.
void gelu_backward(const float* x, const float* grad, int64_t count, float* grad_x);

// y[i] += x[i] for `count` values.
void add(const float* x, int64_t count, float* y);

// One head's attention over `tokens` tokens: out[i] = Σ_j softmax_j(q[i]·k[j] · scale + bias[i][j]) v[j].
// q, k, v and out are rows `stride` floats apart, `head_dim` values each (heads of a qkv buffer read in
// place). `bias` (tokens x tokens, or null) is added to the scores; where `region` (tokens labels, or null)
// differs between i and j, -100 is added too (Swin's shifted-window mask). `queries` > 0 asks only for the
// first that many tokens' outputs (every token is still a key and value): DeiT's last block, whose other
// tokens never reach the head.
struct AttentionHead {
  const float* q;
  const float* k;
  const float* v;
  int64_t stride;
  int64_t tokens;
  int64_t head_dim;
  const float* bias = nullptr;
  const int* region = nullptr;
  int64_t queries = 0;
  int64_t query_count() const { return queries > 0 ? queries : tokens; }
};
void attention_head(const AttentionHead& head, float* out, int64_t out_stride);

// y (tokens x rows) = x (tokens x cols) · W^T + bias, with W given transposed (cols x rows, row-major), as a
// full-precision matrix of a packed file is held. bias may be null.
void dense_linear(const float* x, int64_t tokens, int64_t cols, const float* weight_t, int64_t rows, const float* bias,
                  float* y);

}  // namespace tervit::kernels
