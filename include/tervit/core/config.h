#pragma once
// Run configuration: a YAML file, `--set key=value` overrides, strict validation against a schema
// (unknown keys name themselves and the closest known key; wrong types name key, value and what
// was expected), and defaults filled in. The resolved tree is what a run folder records.
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace tervit {

enum class ValueType { kInt, kFloat, kBool, kString, kIntList, kFloatList, kMap, kList };

struct KeySpec {
  std::string key;           // dotted path inside its section list, e.g. "data.batch_size"
  ValueType type;
  std::string default_yaml;  // "" = required
  double min = -1e300;       // numeric bounds (inclusive)
  double max = 1e300;
};

// A validated configuration. Values are read by dotted key ("runtime.threads").
class Config {
 public:
  explicit Config(YAML::Node root) : root_(std::move(root)) {}
  YAML::Node node(const std::string& dotted_key) const;
  template <typename T>
  T get(const std::string& dotted_key) const {
    return node(dotted_key).as<T>();
  }
  const YAML::Node& root() const { return root_; }
  std::string dump() const;

 private:
  YAML::Node root_;
};

// The schema of run configs: top-level keys, and the keys of each entry of `stages`.
const std::vector<KeySpec>& config_schema();
const std::vector<KeySpec>& stage_schema();

// Config text -> YAML tree (a map); errors name `source` and the line.
YAML::Node parse_yaml_config(const std::string& text, const std::string& source);
YAML::Node load_yaml_file(const std::filesystem::path& path);

// Applies "a.b.c=value" (value parsed as YAML, so numbers, bools and [lists] keep their types).
void apply_override(YAML::Node& root, const std::string& assignment);

// Validates `root` against the schema, fills defaults, and checks the model architecture fields.
Config resolve_config(const YAML::Node& root);

// The first dotted key ("stages[1].lr") whose value differs between two config trees, skipping the
// keys in `ignored` (dotted keys or whole sections); nullopt when they agree.
std::optional<std::string> first_difference(const YAML::Node& a, const YAML::Node& b,
                                            const std::vector<std::string>& ignored, const std::string& prefix = "");

// File + overrides -> resolved config; errors name the file.
Config load_config(const std::filesystem::path& path, const std::vector<std::string>& overrides = {});

}  // namespace tervit
