#include "models/pretrained.h"
#include "tervit/core/strings.h"

#include <regex>

#include "tervit/core/error.h"
#include "tervit/image/eval_crop.h"

namespace tervit::models {

TensorMap remap_to_timm(const TensorMap& tensors) {
  // timm's own rule: a Swin state dict without head.fc.weight but with head.weight is the old layout.
  const bool official_swin = tensors.count("head.weight") && !tensors.count("head.fc.weight") &&
                             std::any_of(tensors.begin(), tensors.end(), [](const auto& t) {
                               return ends_with(t.first, "relative_position_bias_table");
                             });
  if (!official_swin) return tensors;
  static const std::regex downsample(R"(^layers\.(\d+)\.downsample\.)");
  TensorMap out;
  for (const auto& [name, tensor] : tensors) {
    if (ends_with(name, "relative_position_index") || ends_with(name, "attn_mask")) continue;
    std::string key = name;
    std::smatch match;
    if (std::regex_search(key, match, downsample))
      key = "layers." + std::to_string(std::stoi(match[1]) + 1) + ".downsample." + match.suffix().str();
    else if (key.rfind("head.", 0) == 0)
      key = "head.fc." + key.substr(5);
    out.emplace(key, tensor);
  }
  return out;
}

LoadReport load_weights(VisionModelImpl& model, const std::filesystem::path& file, const WeightsOptions& options) {
  return load_weights(model, read_safetensors(file), file.string(), options);
}

LoadReport load_weights(VisionModelImpl& model, const SafetensorsData& weights, const std::string& source,
                        const WeightsOptions& options) {
  LoadOptions load;
  load.strict = options.strict;
  if (options.drop_mismatched_head) load.droppable_prefixes = model.classifier_prefixes();
  return load_state_dict(model, remap_to_timm(weights.tensors), load, source);
}

double default_crop_pct(const ModelArchitecture& architecture) { return image::default_crop_pct(family_name(architecture)); }

}  // namespace tervit::models
