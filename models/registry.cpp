#include "models/registry.h"

#include <functional>
#include <map>
#include <utility>

#include <nlohmann/json.hpp>

#include "tervit/core/closest_match.h"
#include "tervit/core/error.h"
#include "tervit/kernels/model_fields.h"

namespace tervit::models {

namespace {

DeiTOptions deit(int64_t dim, int64_t heads, bool distilled) {
  return DeiTOptions().embed_dim(dim).depth(12).num_heads(heads).distilled(distilled);
}

SwinOptions swin(int64_t dim, std::vector<int64_t> depths, std::vector<int64_t> heads) {
  return SwinOptions().embed_dim(dim).depths(std::move(depths)).num_heads(std::move(heads));
}

const std::map<std::string, ModelArchitecture>& variants() {
  static const std::map<std::string, ModelArchitecture> table{
      {"deit_tiny_patch16_224", deit(192, 3, false)},
      {"deit_small_patch16_224", deit(384, 6, false)},
      {"deit_base_patch16_224", deit(768, 12, false)},
      {"deit_tiny_distilled_patch16_224", deit(192, 3, true)},
      {"deit_small_distilled_patch16_224", deit(384, 6, true)},
      {"deit_base_distilled_patch16_224", deit(768, 12, true)},
      {"swin_tiny_patch4_window7_224", swin(96, {2, 2, 6, 2}, {3, 6, 12, 24})},
      {"swin_small_patch4_window7_224", swin(96, {2, 2, 18, 2}, {3, 6, 12, 24})},
      {"swin_base_patch4_window7_224", swin(128, {2, 2, 18, 2}, {4, 8, 16, 32})},
      // Bare family names: timm's class defaults (ViT-Base, Swin-T), to be shaped by overrides.
      {"deit", DeiTOptions()},
      {"swin", SwinOptions()},
  };
  return table;
}

template <typename T>
T as(const YAML::Node& node, const std::string& field) {
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    throw Error("model." + field + ": cannot read '" + YAML::Dump(node) + "' as the expected type");
  }
}

// One architecture field: set from YAML (config overrides, and metadata JSON, which is YAML) and read as
// JSON (the "config" model files record). The table of a family is the one list of its fields.
template <typename Options>
struct Field {
  std::function<void(Options&, const YAML::Node&, const std::string&)> set;
  std::function<nlohmann::json(const Options&)> get;
};

template <typename Options>
using FieldTable = std::map<std::string, Field<Options>>;

// Binds a field name to an options setter (converting the YAML value to the setter's type) and its getter.
#define TERVIT_FIELD(Options, type, field)                                                          \
  {                                                                                                 \
    #field, Field<Options> {                                                                        \
      [](Options& o, const YAML::Node& n, const std::string& k) { o.field(as<type>(n, k)); },      \
          [](const Options& o) { return nlohmann::json(o.field()); }                                \
    }                                                                                               \
  }

const FieldTable<DeiTOptions>& deit_fields() {
  static const FieldTable<DeiTOptions> fields{
      TERVIT_FIELD(DeiTOptions, int64_t, img_size),       TERVIT_FIELD(DeiTOptions, int64_t, patch_size),
      TERVIT_FIELD(DeiTOptions, int64_t, in_chans),       TERVIT_FIELD(DeiTOptions, int64_t, num_classes),
      TERVIT_FIELD(DeiTOptions, int64_t, embed_dim),      TERVIT_FIELD(DeiTOptions, int64_t, depth),
      TERVIT_FIELD(DeiTOptions, int64_t, num_heads),      TERVIT_FIELD(DeiTOptions, double, mlp_ratio),
      TERVIT_FIELD(DeiTOptions, bool, qkv_bias),          TERVIT_FIELD(DeiTOptions, bool, distilled),
      TERVIT_FIELD(DeiTOptions, double, drop_rate),       TERVIT_FIELD(DeiTOptions, double, pos_drop_rate),
      TERVIT_FIELD(DeiTOptions, double, proj_drop_rate),  TERVIT_FIELD(DeiTOptions, double, attn_drop_rate),
      TERVIT_FIELD(DeiTOptions, double, drop_path_rate),
  };
  return fields;
}

const FieldTable<SwinOptions>& swin_fields() {
  using IntList = std::vector<int64_t>;
  static const FieldTable<SwinOptions> fields{
      TERVIT_FIELD(SwinOptions, int64_t, img_size),      TERVIT_FIELD(SwinOptions, int64_t, patch_size),
      TERVIT_FIELD(SwinOptions, int64_t, in_chans),      TERVIT_FIELD(SwinOptions, int64_t, num_classes),
      TERVIT_FIELD(SwinOptions, int64_t, embed_dim),     TERVIT_FIELD(SwinOptions, IntList, depths),
      TERVIT_FIELD(SwinOptions, IntList, num_heads),     TERVIT_FIELD(SwinOptions, int64_t, window_size),
      TERVIT_FIELD(SwinOptions, double, mlp_ratio),      TERVIT_FIELD(SwinOptions, bool, qkv_bias),
      TERVIT_FIELD(SwinOptions, double, drop_rate),      TERVIT_FIELD(SwinOptions, double, attn_drop_rate),
      TERVIT_FIELD(SwinOptions, double, drop_path_rate),
  };
  return fields;
}
#undef TERVIT_FIELD

template <typename Options>
std::vector<std::string> field_names(const FieldTable<Options>& fields) {
  std::vector<std::string> names;
  for (const auto& entry : fields) names.push_back(entry.first);
  return names;
}

template <typename Options>
void apply_overrides(Options& options, const FieldTable<Options>& fields, const YAML::Node& overrides) {
  for (const auto& item : overrides) {
    const auto key = item.first.as<std::string>();
    const auto setter = fields.find(key);
    if (setter == fields.end())
      throw Error("model." + key + ": unknown architecture field" + did_you_mean(key, field_names(fields)));
    setter->second.set(options, item.second, key);
  }
}

}  // namespace

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& entry : variants())
    if (entry.first.find('_') != std::string::npos) names.push_back(entry.first);
  return names;
}

ModelArchitecture model_architecture(const std::string& name) {
  const auto found = variants().find(name);
  if (found != variants().end()) return found->second;
  std::string known;
  for (const auto& n : model_names()) known += "\n  " + n;
  throw Error("unknown model '" + name + "'" + did_you_mean(name, model_names()) +
              "; known models (or a family, 'deit' or 'swin', with architecture fields):" + known);
}

ModelArchitecture model_architecture(const std::string& name, const YAML::Node& overrides) {
  auto architecture = model_architecture(name);
  if (!overrides || overrides.IsNull()) return architecture;
  if (!overrides.IsMap()) throw Error("model architecture overrides must be a map of field: value");
  std::visit(
      [&](auto& options) {
        if constexpr (std::is_same_v<std::decay_t<decltype(options)>, DeiTOptions>)
          apply_overrides(options, deit_fields(), overrides);
        else
          apply_overrides(options, swin_fields(), overrides);
      },
      architecture);
  // Values no model can be built from are errors naming the field here, at config time, rather than a
  // division by zero or a LibTorch error when the model is built (divisibility is the models' check).
  const auto fields = architecture_json(architecture);
  for (const auto& field : *kernels::model_fields(family_name(architecture))) {
    const auto expected = kernels::field_violation(field.rule, fields.at(field.name));
    if (!expected.empty())
      throw Error("model." + field.name + ": " + fields.at(field.name).dump() + " is out of range, expected " + expected);
  }
  return architecture;
}

std::vector<std::string> architecture_fields(const ModelArchitecture& architecture) {
  return std::holds_alternative<DeiTOptions>(architecture) ? field_names(deit_fields()) : field_names(swin_fields());
}

nlohmann::json architecture_json(const ModelArchitecture& architecture) {
  nlohmann::json fields = nlohmann::json::object();
  const auto write = [&](const auto& options, const auto& table) {
    for (const auto& [name, field] : table) fields[name] = field.get(options);
  };
  if (const auto* deit_options = std::get_if<DeiTOptions>(&architecture)) write(*deit_options, deit_fields());
  else write(std::get<SwinOptions>(architecture), swin_fields());
  return fields;
}

std::string family_name(const ModelArchitecture& architecture) {
  return std::holds_alternative<DeiTOptions>(architecture) ? "deit" : "swin";
}

VisionModel create_model(const ModelArchitecture& architecture) {
  if (const auto* deit_options = std::get_if<DeiTOptions>(&architecture))
    return std::make_shared<DeiTImpl>(*deit_options);
  return std::make_shared<SwinImpl>(std::get<SwinOptions>(architecture));
}

VisionModel create_model(const std::string& name) { return create_model(model_architecture(name)); }

}  // namespace tervit::models
