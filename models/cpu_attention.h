#pragma once
// Softmax attention for float32 CPU tensors as one autograd function, straight from a qkv linear's output.
// LibTorch's batched matmul splits each of the (windows x heads) small products over every thread, and
// its separate scale, softmax and head-split copies each pass over (W, H, N, N) tensors in memory. Here
// each (window, head) is one task on one thread: its products (one-thread BLAS), scale, bias and
// softmax run while its scores are in cache, and q, k, v and their gradients are read and written in the
// qkv layout (no head-split copies). Each task's arithmetic does not depend on the thread count.
#include <torch/torch.h>

namespace tervit::models {

// qkv: (W, N, 3 C) float32 CPU, columns [q | k | v] each split into `heads` heads of C / heads channels
// (timm's layout). Only the first `queries` tokens attend (all N when queries is 0): the rows a pooled
// head reads. bias: undefined, or (G, heads, queries, N) added to the scores of window w from
// bias[w % G] (Swin: G = 1 for the relative position bias alone, G = windows per image with the shift
// mask). Returns (W, queries, C): the heads' outputs side by side, as timm's transpose(1, 2).reshape.
// Gradients flow to qkv and bias.
torch::Tensor cpu_attention(const torch::Tensor& qkv, int64_t heads, const torch::Tensor& bias, int64_t queries = 0);

}  // namespace tervit::models
