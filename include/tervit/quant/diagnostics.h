#pragma once
// What the trainer logs about ternary layers: the fraction of zeros, the α range, and the flip rate
// (the fraction of weights whose ternary value changed since the previous measurement), which tells
// whether ternary training has settled.
#include <torch/torch.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tervit::quant {

struct TernaryLayerStats {
  std::string layer;
  double zero_fraction = 0;
  double alpha_min = 0;
  double alpha_max = 0;
  std::optional<double> flip_rate;  // none on a layer's first measurement
};

// Keeps each ternary layer's previous codes (int8, a quarter of the weight's size) between measurements,
// so the layers themselves carry no logging state.
class TernaryDiagnostics {
 public:
  // One entry per layer that currently has a ternary quantizer, in module order.
  std::vector<TernaryLayerStats> measure(torch::nn::Module& model);

  // The codes of the last measurement by layer name, so that a resumed run reports the same flip rates.
  const std::map<std::string, torch::Tensor>& previous_codes() const { return previous_codes_; }
  void restore(std::map<std::string, torch::Tensor> codes) { previous_codes_ = std::move(codes); }

 private:
  std::map<std::string, torch::Tensor> previous_codes_;
};

}  // namespace tervit::quant
