#include "tervit/deploy/packed_linear.h"

#include <utility>

#include "tervit/core/error.h"

namespace tervit::deploy {

PackedTernaryLinear::PackedTernaryLinear(PackedTernaryMatrix matrix, PackedMode mode)
    : matrix_(std::move(matrix)), mode_(mode) {}

torch::Tensor PackedTernaryLinear::forward(const torch::Tensor& tokens) const {
  if (!tokens.device().is_cpu())
    throw Error("packed ternary layers run on the CPU only, not on " + tokens.device().str() + ": use --device cpu");
  if (tokens.scalar_type() != torch::kFloat32)
    throw Error(std::string("packed ternary layers take float32 inputs, not ") + c10::toString(tokens.scalar_type()));
  if (tokens.dim() == 0 || tokens.size(-1) != matrix_.cols)
    throw Error("packed ternary layer with " + std::to_string(matrix_.cols) + " input features got an input of shape " +
                c10::str(tokens.sizes()));
  const auto x = tokens.reshape({-1, matrix_.cols}).contiguous();
  auto y = torch::empty({x.size(0), matrix_.rows}, x.options());
  packed_matmul(matrix_, mode_, x.data_ptr<float>(), x.size(0), y.data_ptr<float>());
  auto shape = tokens.sizes().vec();
  shape.back() = matrix_.rows;
  return y.view(shape);
}

}  // namespace tervit::deploy
