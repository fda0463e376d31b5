#pragma once
// The matrix product of a quantizable layer run from packed ternary weights (the quant::MatrixKernel a
// packed model's layers hold), on the CPU, threads splitting the output channels.
#include "tervit/deploy/packed_matmul.h"
#include "tervit/deploy/packed_matrix.h"
#include "tervit/quant/quant_layers.h"

namespace tervit::deploy {

class PackedTernaryLinear : public quant::MatrixKernel {
 public:
  PackedTernaryLinear(PackedTernaryMatrix matrix, PackedMode mode);
  // tokens: (..., cols) float32 on the CPU; anything else is a tervit::Error.
  torch::Tensor forward(const torch::Tensor& tokens) const override;
  const PackedTernaryMatrix& matrix() const { return matrix_; }

 private:
  PackedTernaryMatrix matrix_;
  PackedMode mode_;
};

}  // namespace tervit::deploy
