#pragma once
// A matrix layer of the runtime: packed ternary weights (run by the packed kernels in the file's mode) or,
// for the layers a packed file keeps in full precision, a float matrix.
#include <cstdint>
#include <vector>

#include "tervit/kernels/packed_matmul.h"
#include "tervit/kernels/packed_matrix.h"

namespace tervit::runtime {

class Linear {
 public:
  Linear() = default;
  static Linear packed(kernels::PackedTernaryMatrix matrix);
  // weight: rows x cols, row-major; bias: rows values or empty.
  static Linear dense(int64_t rows, int64_t cols, const std::vector<float>& weight, std::vector<float> bias);

  // y (tokens x rows) = x (tokens x cols) W^T + bias.
  void forward(const float* x, int64_t tokens, float* y, kernels::PackedMode mode) const;
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  bool is_packed() const { return is_packed_; }

 private:
  int64_t rows_ = 0, cols_ = 0;
  bool is_packed_ = false;
  kernels::PackedTernaryMatrix packed_;
  std::vector<float> weight_t_;  // dense: cols x rows
  std::vector<float> bias_;      // dense only: a packed matrix holds its own
};

}  // namespace tervit::runtime
