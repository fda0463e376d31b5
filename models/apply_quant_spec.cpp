#include "models/apply_quant_spec.h"

#include <algorithm>

#include "tervit/quant/activation_quant.h"
#include "tervit/quant/quant_layers.h"

namespace tervit::models {

namespace {

// `*` matches any run of characters (dots included), `?` any one character.
bool glob_match(const std::string& pattern, const std::string& name) {
  size_t p = 0, n = 0, star = std::string::npos, star_n = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p, ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++, star_n = n;
    } else if (star != std::string::npos) {
      p = star + 1, n = ++star_n;  // let the last `*` swallow one more character
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool matches_any(const std::vector<std::string>& patterns, const std::string& name) {
  return std::any_of(patterns.begin(), patterns.end(), [&](const auto& pattern) { return glob_match(pattern, name); });
}

// Layers that keep_first_last leaves in full precision: the first quantizable layer (the patch
// embedding) and the classifier head(s).
bool is_first_or_last(const std::string& name, const std::string& first, const VisionModelImpl& model) {
  const auto prefixes = model.classifier_prefixes();
  return name == first || std::any_of(prefixes.begin(), prefixes.end(), [&](const auto& prefix) { return name + "." == prefix; });
}

quant::ActivationQuantizerPtr make_input_quantizer(const quant::QuantSpec& spec, const torch::Tensor& latent_weight) {
  switch (spec.activation()) {
    case quant::ActivationQuant::kLsq: return std::make_shared<quant::LsqActivationQuantizer>(latent_weight.options());
    case quant::ActivationQuant::kAbsmaxToken: return std::make_shared<quant::AbsmaxTokenQuantizer>();
    case quant::ActivationQuant::kNone: break;
  }
  return nullptr;
}

}  // namespace

std::vector<std::string> apply_quant_spec(VisionModelImpl& model, const quant::QuantSpec& spec) {
  const auto layers = quant::quantizable_layers(model);
  const auto first = layers.empty() ? std::string() : layers.front().first;
  std::vector<std::string> selected;
  for (const auto& [name, layer] : layers) {
    const bool wanted = (spec.include().empty() || matches_any(spec.include(), name)) && !matches_any(spec.exclude(), name) &&
                        !(spec.keep_first_last() && is_first_or_last(name, first, model));
    layer->set_weight_quantizer(wanted ? quant::make_weight_quantizer(spec, layer->latent_weight()) : nullptr);
    // method.md quantizes the inputs of linears; the patch embedding's input is the image itself.
    const bool is_linear = dynamic_cast<quant::QuantLinearImpl*>(layer) != nullptr;
    layer->set_input_quantizer(wanted && is_linear ? make_input_quantizer(spec, layer->latent_weight()) : nullptr);
    if (wanted) selected.push_back(name);
  }
  return selected;
}

}  // namespace tervit::models
