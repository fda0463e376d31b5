#include "tervit/core/config.h"

#include <fstream>
#include <set>
#include <sstream>

#include "models/registry.h"
#include "tervit/core/closest_match.h"
#include "tervit/core/error.h"
#include "tervit/quant/quant_spec.h"

namespace tervit {

namespace {

constexpr double kInf = 1e300;

std::string type_name(ValueType type) {
  switch (type) {
    case ValueType::kInt: return "an integer";
    case ValueType::kFloat: return "a number";
    case ValueType::kBool: return "true or false";
    case ValueType::kString: return "a string";
    case ValueType::kIntList: return "a list of integers";
    case ValueType::kFloatList: return "a list of numbers";
    case ValueType::kMap: return "a map";
    case ValueType::kList: return "a list";
  }
  return "?";
}

std::string flat(const YAML::Node& node) {
  YAML::Emitter out;
  out << YAML::Flow << node;
  return out.c_str();
}

template <typename T>
bool converts(const YAML::Node& node) {
  if (!node.IsScalar()) return false;
  try {
    node.as<T>();
    return true;
  } catch (const YAML::Exception&) {
    return false;
  }
}

template <typename T>
bool converts_list(const YAML::Node& node) {
  if (!node.IsSequence()) return false;
  for (const auto& item : node)
    if (!converts<T>(item)) return false;
  return true;
}

bool has_type(const YAML::Node& node, ValueType type) {
  switch (type) {
    case ValueType::kInt: return converts<int64_t>(node);
    case ValueType::kFloat: return converts<double>(node);
    case ValueType::kBool: return converts<bool>(node);
    case ValueType::kString: return node.IsScalar();
    case ValueType::kIntList: return converts_list<int64_t>(node);
    case ValueType::kFloatList: return converts_list<double>(node);
    case ValueType::kMap: return node.IsMap() || node.IsNull();
    case ValueType::kList: return node.IsSequence();
  }
  return false;
}

void check_value(const std::string& key, const YAML::Node& value, const KeySpec& spec) {
  if (!has_type(value, spec.type))
    throw Error(key + ": got '" + flat(value) + "', expected " + type_name(spec.type));
  if (spec.type == ValueType::kInt || spec.type == ValueType::kFloat) {
    const double v = value.as<double>();
    if (v < spec.min || v > spec.max) {
      std::ostringstream range;
      range << key << ": " << flat(value) << " is out of range, expected ";
      if (spec.max >= kInf) range << ">= " << spec.min;
      else range << "between " << spec.min << " and " << spec.max;
      throw Error(range.str());
    }
  }
}

// Checks every key of `node` (a map at `prefix`) against `schema`, recursing into sections, and
// fills in defaults. `label` is how errors name the map's position ("", "stages[1].").
void validate_map(YAML::Node node, const std::vector<KeySpec>& schema, const std::string& prefix, const std::string& label) {
  std::vector<std::string> known;  // keys and sections directly under prefix
  for (const auto& spec : schema) {
    if (spec.key.rfind(prefix, 0) != 0) continue;
    const auto rest = spec.key.substr(prefix.size());
    known.push_back(rest.substr(0, rest.find('.')));
  }
  for (const auto& item : node) {
    const auto name = item.first.as<std::string>();
    if (std::find(known.begin(), known.end(), name) == known.end())
      throw Error(label + prefix + name + ": unknown key" + did_you_mean(name, known));
  }
  std::set<std::string> visited_sections;
  for (const auto& spec : schema) {
    if (spec.key.rfind(prefix, 0) != 0) continue;
    const auto rest = spec.key.substr(prefix.size());
    const auto dot = rest.find('.');
    if (dot != std::string::npos) {  // a key inside a section
      const auto section = rest.substr(0, dot);
      if (!visited_sections.insert(section).second) continue;
      if (!node[section]) node[section] = YAML::Node(YAML::NodeType::Map);
      if (!node[section].IsMap()) throw Error(label + prefix + section + ": expected a section (a map of keys)");
      validate_map(node[section], schema, prefix + section + ".", label);
      continue;
    }
    const auto full = label + spec.key;
    if (!node[rest] || node[rest].IsNull()) {
      if (spec.default_yaml.empty()) throw Error(full + ": required key is missing");
      node[rest] = YAML::Load(spec.default_yaml);
      continue;
    }
    check_value(full, node[rest], spec);
  }
}

void check_choice(const Config& config, const std::string& key, const std::vector<std::string>& choices) {
  const auto value = config.get<std::string>(key);
  if (std::find(choices.begin(), choices.end(), value) == choices.end()) {
    std::string list;
    for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
    throw Error(key + ": unknown value '" + value + "'" + did_you_mean(value, choices) + ", expected one of " + list);
  }
}

}  // namespace

const std::vector<KeySpec>& config_schema() {
  static const std::vector<KeySpec> schema{
      {"model.name", ValueType::kString, ""},
      {"model.architecture", ValueType::kMap, "{}"},
      {"model.weights", ValueType::kString, "''"},
      {"model.drop_mismatched_head", ValueType::kBool, "false"},
      {"data.root", ValueType::kString, "data/fashion_mnist"},
      {"data.train_split", ValueType::kString, "train"},
      {"data.val_split", ValueType::kString, "val"},
      {"data.batch_size", ValueType::kInt, "64", 1},
      {"data.eval_batch_size", ValueType::kInt, "0", 0},  // 0: twice batch_size
      {"data.workers", ValueType::kInt, "2", 0},
      {"data.repeated_aug", ValueType::kInt, "1", 1},  // DeiT's repeated augmentation (3 in DeiT)
      {"data.crop_pct", ValueType::kFloat, "0.875", 1e-3, 1.0},
      {"data.interpolation", ValueType::kString, "bicubic"},
      {"data.mean", ValueType::kFloatList, "[0.485, 0.456, 0.406]"},
      {"data.std", ValueType::kFloatList, "[0.229, 0.224, 0.225]"},
      // timm's training transform and Mixup/CutMix, DeiT's defaults.
      {"augment.scale", ValueType::kFloatList, "[0.08, 1.0]"},
      {"augment.ratio", ValueType::kFloatList, "[0.75, 1.3333333333333333]"},
      {"augment.hflip", ValueType::kFloat, "0.5", 0, 1},
      {"augment.auto_augment", ValueType::kString, "rand-m9-mstd0.5-inc1"},
      {"augment.color_jitter", ValueType::kFloat, "0.4", 0},
      {"augment.reprob", ValueType::kFloat, "0.25", 0, 1},
      {"augment.mixup", ValueType::kFloat, "0.8", 0},
      {"augment.cutmix", ValueType::kFloat, "1.0", 0},
      {"augment.mixup_prob", ValueType::kFloat, "1.0", 0, 1},
      {"augment.mixup_switch_prob", ValueType::kFloat, "0.5", 0, 1},
      {"augment.smoothing", ValueType::kFloat, "0.1", 0, 0.999},
      {"optimizer.eps", ValueType::kFloat, "1e-8", 0},
      {"optimizer.betas", ValueType::kFloatList, "[0.9, 0.999]"},
      {"optimizer.clip_grad", ValueType::kFloat, "0", 0},      // max gradient norm; 0: no clipping
      {"optimizer.accum_steps", ValueType::kInt, "1", 1},      // batches per optimizer step
      {"optimizer.lr_base_batch", ValueType::kInt, "512", 0},  // lr x global batch / this; 0: lr as given
      {"optimizer.ema_decay", ValueType::kFloat, "0", 0, 1},   // EMA of weights; 0: off
      {"optimizer.max_nonfinite_skips", ValueType::kInt, "0", 0},  // NaN/Inf steps skipped before stopping
      {"distill.type", ValueType::kString, "none"},
      {"distill.teacher_model", ValueType::kString, "''"},
      {"distill.teacher_architecture", ValueType::kMap, "{}"},
      {"distill.teacher_weights", ValueType::kString, "''"},
      {"distill.alpha", ValueType::kFloat, "0.5", 0, 1},
      {"distill.tau", ValueType::kFloat, "1.0", 1e-6},
      {"checkpoint.every_steps", ValueType::kInt, "0", 0},  // also every N steps; 0: at epoch ends only
      {"checkpoint.keep_last", ValueType::kInt, "2", 1},
      // A failed checkpoint write (a full disk): stop the run (exit 1), or log it and train on.
      {"checkpoint.on_write_error", ValueType::kString, "stop"},
      {"logging.every_steps", ValueType::kInt, "50", 1},
      {"logging.progress", ValueType::kString, "auto"},
      {"runtime.device", ValueType::kString, "auto"},
      {"runtime.threads", ValueType::kInt, "0", 0},
      {"runtime.seed", ValueType::kInt, "0", 0},
      {"runtime.log_level", ValueType::kString, "info"},
      {"runtime.amp", ValueType::kString, "none"},
      // Data parallel: how long a rank waits for the others (rendezvous, each collective) before it
      // stops with an error; also bounds how long a rank may spend alone (rank 0 writing checkpoints).
      {"runtime.dist_timeout_s", ValueType::kFloat, "600", 1},
      {"stages", ValueType::kList, ""},
  };
  return schema;
}

const std::vector<KeySpec>& stage_schema() {
  static const std::vector<KeySpec> schema{
      {"name", ValueType::kString, ""},
      {"epochs", ValueType::kInt, "", 1},
      {"weight_quant", ValueType::kString, "fp"},
      {"quant", ValueType::kMap, "{}"},
      // previous (the stage before, or model.weights for the first), or a checkpoint folder or a
      // safetensors weights file to start from.
      {"init", ValueType::kString, "previous"},
      {"reset_optimizer", ValueType::kBool, "true"},
      {"lr", ValueType::kFloat, "5e-4", 0},
      {"warmup_epochs", ValueType::kFloat, "0", 0},
      {"warmup_lr", ValueType::kFloat, "1e-6", 0},
      {"min_lr", ValueType::kFloat, "1e-5", 0},
      {"weight_decay", ValueType::kFloat, "0.05", 0},
  };
  return schema;
}

YAML::Node Config::node(const std::string& dotted_key) const {
  YAML::Node current = YAML::Clone(root_);
  std::stringstream parts(dotted_key);
  std::string part;
  while (std::getline(parts, part, '.')) {
    if (!current.IsMap() || !current[part]) throw Error("config has no key '" + dotted_key + "'");
    current = current[part];
  }
  return current;
}

std::string Config::dump() const {
  YAML::Emitter out;
  out << root_;
  return std::string(out.c_str()) + "\n";
}

YAML::Node parse_yaml_config(const std::string& text, const std::string& source) {
  try {
    auto root = YAML::Load(text);
    if (!root.IsMap()) throw Error(source + ": a config must be a map of sections (model, data, stages, ...)");
    return root;
  } catch (const YAML::Exception& e) {
    throw Error(source + ": invalid YAML at line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

YAML::Node load_yaml_file(const std::filesystem::path& path) {
  if (std::filesystem::is_directory(path)) throw Error(path.string() + ": is a folder, not a config file");
  std::ifstream file(path, std::ios::binary);
  if (!file) throw Error(path.string() + ": cannot open config file");
  std::ostringstream text;
  text << file.rdbuf();
  return parse_yaml_config(text.str(), path.string());
}

void apply_override(YAML::Node& root, const std::string& assignment) {
  const auto equals = assignment.find('=');
  if (equals == std::string::npos || equals == 0)
    throw Error("--set '" + assignment + "': expected key=value, e.g. data.batch_size=128");
  const auto key = assignment.substr(0, equals);
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(equals + 1));
  } catch (const YAML::Exception& e) {
    throw Error("--set " + key + ": cannot parse value: " + e.msg);
  }
  std::vector<std::string> parts;
  std::stringstream stream(key);
  for (std::string part; std::getline(stream, part, '.');) parts.push_back(part);
  // yaml-cpp's operator[] returns handles: walk with reset() to keep writing into the same tree.
  YAML::Node current;
  current.reset(root);
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (!current[parts[i]]) current[parts[i]] = YAML::Node(YAML::NodeType::Map);
    YAML::Node next = current[parts[i]];
    if (!next.IsMap()) throw Error("--set " + key + ": '" + parts[i] + "' is not a section");
    current.reset(next);
  }
  current[parts.back()] = value;
}

Config resolve_config(const YAML::Node& input) {
  YAML::Node root = YAML::Clone(input);
  validate_map(root, config_schema(), "", "");
  if (root["stages"].size() == 0) throw Error("stages: the stage list is empty; a run needs at least one stage");
  for (size_t i = 0; i < root["stages"].size(); ++i) {
    YAML::Node stage = root["stages"][i];
    const auto label = "stages[" + std::to_string(i) + "].";
    if (!stage.IsMap()) throw Error(label.substr(0, label.size() - 1) + ": each stage must be a map (name, epochs, ...)");
    validate_map(stage, stage_schema(), "", label);
  }
  Config config(root);
  with_context("model.name", [&] { return models::model_architecture(config.get<std::string>("model.name")); });
  models::model_architecture(config.get<std::string>("model.name"), config.node("model.architecture"));
  check_choice(config, "data.interpolation", {"nearest", "bilinear", "bicubic"});
  check_choice(config, "runtime.log_level", {"trace", "debug", "info", "warn", "error", "off"});
  check_choice(config, "runtime.amp", {"none", "bf16", "fp16"});
  check_choice(config, "distill.type", {"none", "soft", "hard"});
  check_choice(config, "logging.progress", {"auto", "bar", "lines"});
  check_choice(config, "checkpoint.on_write_error", {"stop", "continue"});
  if (config.get<std::string>("distill.type") != "none" && config.get<std::string>("distill.teacher_weights").empty())
    throw Error("distill.teacher_weights: distillation needs the teacher's safetensors weights");
  const auto check_pair = [&](const char* key, bool ordered) {
    const auto node = config.node(key);
    if (node.size() != 2 || (ordered && node[0].as<double>() > node[1].as<double>()))
      throw Error(std::string(key) + ": expected [low, high]");
  };
  check_pair("augment.scale", true);
  check_pair("augment.ratio", true);
  check_pair("optimizer.betas", false);
  std::set<std::string> stage_names;
  for (size_t i = 0; i < root["stages"].size(); ++i) {
    const auto label = "stages[" + std::to_string(i) + "].";
    quant::quant_spec_from_yaml(root["stages"][i], label);
    // Stage names become parts of checkpoint folder names.
    const auto name = root["stages"][i]["name"].as<std::string>();
    if (name.empty() || name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != std::string::npos)
      throw Error(label + "name: '" + name + "' must be letters, digits and underscores");
    if (!stage_names.insert(name).second) throw Error(label + "name: '" + name + "' is used by an earlier stage");
  }
  for (const auto* key : {"data.mean", "data.std"})
    if (config.node(key).size() != 3) throw Error(std::string(key) + ": expected 3 values (one per RGB channel)");
  return config;
}

std::optional<std::string> first_difference(const YAML::Node& a, const YAML::Node& b,
                                            const std::vector<std::string>& ignored, const std::string& prefix) {
  if (std::find(ignored.begin(), ignored.end(), prefix) != ignored.end()) return std::nullopt;
  const auto here = prefix.empty() ? std::string("(root)") : prefix;
  if (a.Type() != b.Type()) return here;
  if (a.IsMap()) {
    std::set<std::string> keys;
    for (const auto& item : a) keys.insert(item.first.as<std::string>());
    for (const auto& item : b) keys.insert(item.first.as<std::string>());
    for (const auto& key : keys) {
      const auto child = prefix.empty() ? key : prefix + "." + key;
      if (!a[key] || !b[key]) {
        if (std::find(ignored.begin(), ignored.end(), child) == ignored.end()) return child;
        continue;
      }
      if (auto difference = first_difference(a[key], b[key], ignored, child)) return difference;
    }
    return std::nullopt;
  }
  if (a.IsSequence()) {
    if (a.size() != b.size()) return here;
    for (size_t i = 0; i < a.size(); ++i)
      if (auto difference = first_difference(a[i], b[i], ignored, prefix + "[" + std::to_string(i) + "]")) return difference;
    return std::nullopt;
  }
  if (a.IsScalar() && a.Scalar() != b.Scalar()) return here;
  return std::nullopt;
}

Config load_config(const std::filesystem::path& path, const std::vector<std::string>& overrides) {
  auto root = load_yaml_file(path);
  for (const auto& assignment : overrides) apply_override(root, assignment);
  return with_context(path.string(), [&] { return resolve_config(root); });
}

}  // namespace tervit
