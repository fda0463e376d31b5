#include "tervit/runtime/linear.h"

#include <utility>

#include "tervit/kernels/float_ops.h"

namespace tervit::runtime {

Linear Linear::packed(kernels::PackedTernaryMatrix matrix) {
  Linear linear;
  linear.rows_ = matrix.rows;
  linear.cols_ = matrix.cols;
  linear.packed_ = std::move(matrix);
  linear.is_packed_ = true;
  return linear;
}

Linear Linear::dense(int64_t rows, int64_t cols, const std::vector<float>& weight, std::vector<float> bias) {
  Linear linear;
  linear.rows_ = rows;
  linear.cols_ = cols;
  linear.weight_t_.resize(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < cols; ++k) linear.weight_t_[k * rows + r] = weight[r * cols + k];
  linear.bias_ = std::move(bias);
  return linear;
}

void Linear::forward(const float* x, int64_t tokens, float* y, kernels::PackedMode mode) const {
  if (is_packed())
    kernels::packed_matmul(packed_, mode, x, tokens, y);
  else
    kernels::dense_linear(x, tokens, cols_, weight_t_.data(), rows_, bias_.empty() ? nullptr : bias_.data(), y);
}

}  // namespace tervit::runtime
