#include "tervit/deploy/model_metadata.h"

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "tervit/core/error.h"

namespace tervit::deploy {

using nlohmann::json;

std::map<std::string, std::string> architecture_metadata(const models::ModelArchitecture& architecture) {
  return {{"family", models::family_name(architecture)}, {"config", models::architecture_json(architecture).dump()}};
}

std::string quant_spec_json(const quant::QuantSpec& spec) {
  return json{{"weight_quant", quant::weight_quant_names().name(spec.weight_quant())},
              {"delta", spec.delta()},
              {"granularity", quant::granularity_names().name(spec.granularity())},
              {"learnable_alpha", spec.learnable_alpha()},
              {"lsq", spec.lsq()},
              {"activation", quant::activation_quant_names().name(spec.activation())},
              {"keep_first_last", spec.keep_first_last()},
              {"include", spec.include()},
              {"exclude", spec.exclude()}}
      .dump();
}

quant::QuantSpec quant_spec_from_json(const std::string& text, const std::string& source) {
  YAML::Node fields;
  try {
    fields = YAML::Load(text);  // JSON is YAML
  } catch (const YAML::Exception& e) {
    throw Error(source + ": quant settings are not valid JSON: " + e.msg);
  }
  if (!fields.IsMap()) throw Error(source + ": quant settings must be a JSON object, got '" + text + "'");
  // The trainer's checkpoints record the stage-config shape itself: {"weight_quant": ..., "quant": {...}}.
  if (fields["quant"].IsMap()) return quant::quant_spec_from_yaml(fields, source + ": ");
  // The flat shape, turned into the stage-config shape: weight_quant beside a map of the other keys.
  YAML::Node stage, options(YAML::NodeType::Map);
  for (const auto& item : fields) {
    const auto key = item.first.as<std::string>();
    if (key == "weight_quant")
      stage["weight_quant"] = item.second;
    else
      options[key] = item.second;
  }
  stage["quant"] = options;
  return quant::quant_spec_from_yaml(stage, source + ": ");
}

}  // namespace tervit::deploy
