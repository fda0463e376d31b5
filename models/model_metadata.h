#pragma once
// What a model file (a checkpoint's model.safetensors, a packed file) says about its architecture in its
// safetensors metadata: "family" ("deit", "swin") and "config" (every architecture field, as JSON). One
// writer and one reader; the quantizer's "quant" entry is quant_spec.h's.
#include <map>
#include <optional>
#include <string>

#include "models/registry.h"

namespace tervit::models {

// {"family": "deit", "config": "{\"img_size\": 224, ...}"}: every architecture field.
std::map<std::string, std::string> architecture_metadata(const ModelArchitecture& architecture);

// The architecture a weights file records in its metadata ("family" and "config", a JSON object of
// architecture fields, as the timm fixtures and tervit write them), or nullopt when it has none.
std::optional<ModelArchitecture> architecture_from_metadata(const std::map<std::string, std::string>& metadata);

}  // namespace tervit::models
