#include "tervit/deploy/model_metadata.h"

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "tervit/core/error.h"

namespace tervit::deploy {

namespace {

using nlohmann::json;

json config_json(const models::DeiTOptions& o) {
  return {{"img_size", o.img_size()},       {"patch_size", o.patch_size()},       {"in_chans", o.in_chans()},
          {"num_classes", o.num_classes()}, {"embed_dim", o.embed_dim()},         {"depth", o.depth()},
          {"num_heads", o.num_heads()},     {"mlp_ratio", o.mlp_ratio()},         {"qkv_bias", o.qkv_bias()},
          {"distilled", o.distilled()},     {"drop_rate", o.drop_rate()},         {"pos_drop_rate", o.pos_drop_rate()},
          {"proj_drop_rate", o.proj_drop_rate()}, {"attn_drop_rate", o.attn_drop_rate()},
          {"drop_path_rate", o.drop_path_rate()}};
}

json config_json(const models::SwinOptions& o) {
  return {{"img_size", o.img_size()},       {"patch_size", o.patch_size()},   {"in_chans", o.in_chans()},
          {"num_classes", o.num_classes()}, {"embed_dim", o.embed_dim()},     {"depths", o.depths()},
          {"num_heads", o.num_heads()},     {"window_size", o.window_size()}, {"mlp_ratio", o.mlp_ratio()},
          {"qkv_bias", o.qkv_bias()},       {"drop_rate", o.drop_rate()},     {"attn_drop_rate", o.attn_drop_rate()},
          {"drop_path_rate", o.drop_path_rate()}};
}

template <typename Enum>
const std::string& name_of(Enum value, const std::vector<std::pair<std::string, Enum>>& table) {
  for (const auto& [name, entry] : table)
    if (entry == value) return name;
  throw std::logic_error("quant_spec_json: a value without a name");
}

}  // namespace

std::map<std::string, std::string> architecture_metadata(const models::ModelArchitecture& architecture) {
  const auto config = std::visit([](const auto& options) { return config_json(options); }, architecture);
  return {{"family", models::family_name(architecture)}, {"config", config.dump()}};
}

std::string quant_spec_json(const quant::QuantSpec& spec) {
  return json{{"weight_quant", name_of(spec.weight_quant(), quant::weight_quant_names())},
              {"delta", spec.delta()},
              {"granularity", name_of(spec.granularity(), quant::granularity_names())},
              {"learnable_alpha", spec.learnable_alpha()},
              {"lsq", spec.lsq()},
              {"activation", name_of(spec.activation(), quant::activation_quant_names())},
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
