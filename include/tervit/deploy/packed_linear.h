#pragma once
// The matrix product of a quantizable layer run from packed ternary weights (the quant::MatrixKernel a
// packed model's layers hold), on the CPU, threads splitting the output channels.
#include "tervit/kernels/packed_matmul.h"
#include "tervit/kernels/packed_matrix.h"
#include "tervit/quant/quant_layers.h"

namespace tervit::deploy {

class PackedTernaryLinear : public quant::MatrixKernel {
 public:
  PackedTernaryLinear(kernels::PackedTernaryMatrix matrix, kernels::PackedMode mode);
  // tokens: (..., cols) float32 on the CPU; anything else is a tervit::Error.
  torch::Tensor forward(const torch::Tensor& tokens) const override;
  const kernels::PackedTernaryMatrix& matrix() const { return matrix_; }

 private:
  kernels::PackedTernaryMatrix matrix_;
  kernels::PackedMode mode_;
};

}  // namespace tervit::deploy
