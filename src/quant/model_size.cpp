#include "tervit/quant/model_size.h"

#include <cstdio>
#include <set>
#include <stdexcept>

#include "tervit/quant/quant_layers.h"

namespace tervit::quant {

double ModelSize::paper_megabytes() const {
  const double bits = 2.0 * ternary_weights + 8.0 * int8_weights + 32.0 * float_parameters;
  return bits / 8.0 / 1e6;
}

std::string ModelSize::summary() const {
  char text[200];
  std::snprintf(text, sizeof(text), "%.2f MB (paper accounting): %.2f M ternary, %.2f M int8, %.2f M float parameters; %ld scales",
                paper_megabytes(), ternary_weights / 1e6, int8_weights / 1e6, float_parameters / 1e6, static_cast<long>(scales));
  return text;
}

ModelSize model_size(torch::nn::Module& model) {
  ModelSize size;
  std::set<const void*> quantized;  // the tensors counted as quantized weights, by storage identity
  for (const auto& [name, layer] : quantizable_layers(model)) {
    const auto& quantizer = layer->weight_quantizer();
    if (!quantizer) continue;
    const auto& weight = layer->latent_weight();
    switch (quantizer->bits_per_weight()) {
      case 2: size.ternary_weights += weight.numel(); break;
      case 8: size.int8_weights += weight.numel(); break;
      default: throw std::logic_error("model_size: no accounting for " + quantizer->name() + " weights");
    }
    size.scales += quantizer->scale_count(weight);
    quantized.insert(weight.unsafeGetTensorImpl());
  }
  for (const auto& parameter : model.parameters())
    if (quantized.count(parameter.unsafeGetTensorImpl()) == 0) size.float_parameters += parameter.numel();
  return size;
}

}  // namespace tervit::quant
