#include "tervit/quant/batched_weights.h"

#include <map>
#include <tuple>

#include "tervit/quant/straight_through.h"

namespace tervit::quant {

BatchedWeights::BatchedWeights(const std::vector<QuantizableLayer*>& layers) {
  struct Group {
    const WeightQuantizer* quantizer = nullptr;
    std::vector<QuantizableLayer*> members;
  };
  // Keyed by the row function, row length, device and dtype: rows that can stand in one matrix.
  std::map<std::tuple<std::string, int64_t, std::string, int>, Group> groups;
  for (auto* layer : layers) {
    const auto& quantizer = layer->weight_quantizer();
    if (!quantizer || layer->kernel()) continue;
    auto function = quantizer->row_function();
    if (function.empty()) continue;
    const auto& weight = layer->latent_weight();
    auto& group = groups[{std::move(function), weight.numel() / weight.size(0), weight.device().str(), static_cast<int>(weight.scalar_type())}];
    group.quantizer = quantizer.get();
    group.members.push_back(layer);
  }
  for (auto& [key, group] : groups) {
    if (group.members.size() < 2) continue;  // alone, its own quantizer does the same work
    std::vector<torch::Tensor> rows;
    std::vector<int64_t> row_counts;
    for (auto* layer : group.members) {
      const auto& weight = layer->latent_weight();
      rows.push_back(weight.reshape({weight.size(0), -1}));
      row_counts.push_back(weight.size(0));
    }
    const auto latent = torch::cat(rows);
    torch::Tensor quantized;
    {
      torch::NoGradGuard no_grad;
      quantized = group.quantizer->quantize_rows(latent.detach());
    }
    const auto parts = straight_through(quantized, latent).split_with_sizes(row_counts);
    for (size_t i = 0; i < group.members.size(); ++i) {
      group.members[i]->set_prepared_weight(parts[i].view(group.members[i]->latent_weight().sizes()));
      prepared_.push_back(group.members[i]);
    }
    ++passes_;
  }
}

BatchedWeights::~BatchedWeights() {
  for (auto* layer : prepared_) layer->set_prepared_weight({});
}

}  // namespace tervit::quant
