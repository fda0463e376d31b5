#include "models/model_metadata.h"

#include <yaml-cpp/yaml.h>

#include "tervit/core/error.h"

namespace tervit::models {

std::map<std::string, std::string> architecture_metadata(const ModelArchitecture& architecture) {
  return {{"family", family_name(architecture)}, {"config", architecture_json(architecture).dump()}};
}

std::optional<ModelArchitecture> architecture_from_metadata(const std::map<std::string, std::string>& metadata) {
  const auto family = metadata.find("family");
  const auto config = metadata.find("config");
  if (family == metadata.end() || config == metadata.end()) return std::nullopt;
  YAML::Node fields;
  try {
    fields = YAML::Load(config->second);  // JSON is YAML
  } catch (const YAML::Exception& e) {
    throw Error("weights metadata 'config' is not valid JSON: " + e.msg);
  }
  return model_architecture(family->second, fields);
}

}  // namespace tervit::models
