#pragma once
// Configuration machinery: a YAML file, `--set key=value` overrides, strict validation against a schema
// (unknown keys name themselves and the closest known key; wrong types name key, value and what
// was expected), and defaults filled in. The run config's own schema is engine/run_config.h.
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

// Checks every key of `node` (a map at `prefix`) against `schema`, recursing into sections, and fills in
// defaults. `label` is how errors name the map's position ("", "stages[1].").
void validate_map(YAML::Node node, const std::vector<KeySpec>& schema, const std::string& prefix, const std::string& label);

// The string at `key` must be one of `choices`; the error names the key, the closest choice and all of them.
void check_choice(const Config& config, const std::string& key, const std::vector<std::string>& choices);

// Config text -> YAML tree (a map); errors name `source` and the line.
YAML::Node parse_yaml_config(const std::string& text, const std::string& source);
YAML::Node load_yaml_file(const std::filesystem::path& path);

// Applies "a.b.c=value" (value parsed as YAML, so numbers, bools and [lists] keep their types).
void apply_override(YAML::Node& root, const std::string& assignment);

// The first dotted key ("stages[1].lr") whose value differs between two config trees, skipping the
// keys in `ignored` (dotted keys or whole sections); nullopt when they agree.
std::optional<std::string> first_difference(const YAML::Node& a, const YAML::Node& b,
                                            const std::vector<std::string>& ignored, const std::string& prefix = "");

}  // namespace tervit
