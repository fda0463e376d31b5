#include "tervit/deploy/packed_linear.h"

#include <utility>

#include "tervit/core/error.h"

namespace tervit::deploy {

PackedTernaryLinear::PackedTernaryLinear(kernels::PackedTernaryMatrix matrix, kernels::PackedMode mode)
    : matrix_(std::move(matrix)), mode_(mode) {}

torch::Tensor PackedTernaryLinear::forward(const torch::Tensor& tokens) const {
  if (!tokens.device().is_cpu())
    throw Error("packed ternary layers run on the CPU only, not on " + tokens.device().str() + ": use --device cpu");
  if (tokens.scalar_type() != torch::kFloat32)
    throw Error(std::string("packed ternary layers take float32 inputs, not ") + c10::toString(tokens.scalar_type()));
  if (tokens.dim() == 0 || tokens.size(-1) != matrix_.cols)
    throw Error("packed ternary layer with " + std::to_string(matrix_.cols) + " input features got an input of shape " +
                c10::str(tokens.sizes()));
  // The kernels read tokens x cols floats; a contiguous input already is that, whatever its leading dims.
  const auto x = tokens.contiguous();
  auto shape = tokens.sizes().vec();
  shape.back() = matrix_.rows;
  auto y = torch::empty(shape, x.options());
  kernels::packed_matmul(matrix_, mode_, x.data_ptr<float>(), x.numel() / matrix_.cols, y.data_ptr<float>());
  return y;
}

}  // namespace tervit::deploy
