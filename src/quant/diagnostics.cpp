#include "tervit/quant/diagnostics.h"

#include "tervit/quant/quant_layers.h"
#include "tervit/quant/ternary.h"

namespace tervit::quant {

std::vector<TernaryLayerStats> TernaryDiagnostics::measure(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  std::vector<TernaryLayerStats> stats;
  for (const auto& [name, layer] : quantizable_layers(model)) {
    const auto* quantizer = dynamic_cast<const TernaryQuantizer*>(layer->weight_quantizer().get());
    if (!quantizer) continue;
    const auto ternarized = quantizer->ternarize(layer->latent_weight());
    const auto codes = ternarized.codes.to(torch::kInt8);
    TernaryLayerStats layer_stats;
    layer_stats.layer = name;
    layer_stats.zero_fraction = (codes == 0).to(torch::kDouble).mean().item<double>();
    layer_stats.alpha_min = ternarized.alpha.min().item<double>();
    layer_stats.alpha_max = ternarized.alpha.max().item<double>();
    auto& previous = previous_codes_[name];
    if (previous.defined() && previous.sizes() == codes.sizes())
      layer_stats.flip_rate = (codes != previous).to(torch::kDouble).mean().item<double>();
    previous = codes;
    stats.push_back(layer_stats);
  }
  return stats;
}

}  // namespace tervit::quant
