#pragma once
// 8-bit quantization of the inputs of quantized linears, for W2A8 models that deploy on integer
// kernels: a per-tensor learnable step (LSQ) or BitNet's per-token absmax. Both fake-quantize: the
// output is float, on the 8-bit grid, and gradients pass straight through.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace tervit::quant {

class ActivationQuantizer {
 public:
  virtual ~ActivationQuantizer() = default;
  virtual torch::Tensor quantize(const torch::Tensor& input) = 0;
  virtual std::string name() const = 0;
  // Learnable tensors for the optimizer (kept out of the layer's registered parameters).
  virtual std::vector<torch::Tensor> parameters() const { return {}; }
  // Called when parameters() were restored from a checkpoint: data-dependent initialisation is done.
  virtual void mark_restored() {}
};

using ActivationQuantizerPtr = std::shared_ptr<ActivationQuantizer>;

// One learnable step for the whole tensor. LSQ initialises it from the data, 2·mean|x|/sqrt(Qp), on
// the first batch it sees; until then it holds 1.
class LsqActivationQuantizer : public ActivationQuantizer {
 public:
  explicit LsqActivationQuantizer(const torch::TensorOptions& options = {});
  torch::Tensor quantize(const torch::Tensor& input) override;
  std::string name() const override { return "lsq"; }
  std::vector<torch::Tensor> parameters() const override { return {step_}; }
  const torch::Tensor& step() const { return step_; }
  void mark_restored() override { initialised_ = true; }

 private:
  torch::Tensor step_;  // scalar, requires_grad; updated in place so the optimizer keeps its handle
  bool initialised_ = false;
};

// BitNet: each token (last dimension) scaled by 127/max|x|, rounded, clamped to ±127, scaled back.
class AbsmaxTokenQuantizer : public ActivationQuantizer {
 public:
  torch::Tensor quantize(const torch::Tensor& input) override;
  std::string name() const override { return "absmax_token"; }
};

}  // namespace tervit::quant
