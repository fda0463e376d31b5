#pragma once
// Named model variants as timm names them, and custom architectures from config: a family name
// ("deit", "swin") or a variant name, plus per-field overrides (img_size, depth, heads, ...).
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <string>
#include <variant>
#include <vector>

#include "models/deit.h"
#include "models/swin.h"
#include "models/vision_model.h"

namespace tervit::models {

using ModelArchitecture = std::variant<DeiTOptions, SwinOptions>;

// The registered variant names, sorted (deit_*, swin_*).
std::vector<std::string> model_names();

// The architecture of a variant or family; an unknown name is an error listing the known ones.
ModelArchitecture model_architecture(const std::string& name);

// `name`'s architecture with the fields of `overrides` (a map, e.g. {img_size: 28, in_chans: 1})
// applied; an unknown field is an error that names it and suggests the closest one.
ModelArchitecture model_architecture(const std::string& name, const YAML::Node& overrides);

// The fields an architecture of this family accepts as overrides.
std::vector<std::string> architecture_fields(const ModelArchitecture& architecture);

// Every field of the architecture, by name: what model files record as their "config" metadata, which
// model_architecture(family_name(a), fields) reads back to `a`.
nlohmann::json architecture_json(const ModelArchitecture& architecture);

std::string family_name(const ModelArchitecture& architecture);

VisionModel create_model(const ModelArchitecture& architecture);
VisionModel create_model(const std::string& name);

}  // namespace tervit::models
