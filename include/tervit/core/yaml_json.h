#pragma once
// YAML config fragments as JSON, for safetensors metadata (architecture, quantizer settings) that
// tools outside tervit read. Scalars become integers, numbers or booleans where they parse as such.
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

namespace tervit {

nlohmann::ordered_json yaml_to_json(const YAML::Node& node);

}  // namespace tervit
