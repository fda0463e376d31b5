#pragma once
// The matrix product of a quantizable layer run from packed ternary weights (the quant::MatrixKernel a
// packed model's layers hold), on the CPU, threads splitting the output channels.
#include <string>

#include "tervit/deploy/packed_matrix.h"
#include "tervit/quant/quant_layers.h"

namespace tervit::deploy {

// exact: float activations, equal to the fake-quantized model up to float reassociation.
// int8: activations quantized per token to int8 (W2A8), integer dot products.
enum class PackedMode { kExact, kInt8 };

// "exact" or "int8"; anything else is a tervit::Error naming both.
PackedMode parse_packed_mode(const std::string& name);
std::string packed_mode_name(PackedMode mode);

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
