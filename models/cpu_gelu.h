#pragma once
// GELU (exact, erf form) for float32 CPU tensors as one autograd function on the runtime's kernels
// (tervit/kernels/float_ops.h). LibTorch 1.13's CPU GELU evaluates erf and, in its gradient, a separate
// Sleef exponential; these take Φ from table-driven polynomials and the gradient's density from one fast
// exponential.
#include <torch/torch.h>

namespace tervit::models {

// x: float32 CPU. Gradients flow to x.
torch::Tensor cpu_gelu(const torch::Tensor& x);

}  // namespace tervit::models
