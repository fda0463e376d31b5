#include "tervit/core/config.h"

#include <cmath>
#include <limits>
#include <set>
#include <sstream>

#include "tervit/core/closest_match.h"
#include "tervit/core/error.h"
#include "tervit/core/file_bytes.h"
#include "tervit/core/strings.h"

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

// A value as errors echo it: one line, and abbreviated (a 10 MB value is named, not printed).
std::string flat(const YAML::Node& node) {
  YAML::Emitter out;
  out << YAML::Flow << node;
  return abbreviated(out.c_str());
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
  // Numbers end up in float32 tensors and LibTorch scalars: one beyond float32's range fails there, unnamed.
  const auto beyond_float = [](double v) { return std::abs(v) > std::numeric_limits<float>::max(); };
  if (spec.type == ValueType::kFloatList)
    for (const auto& element : value) {
      if (!std::isfinite(element.as<double>())) throw Error(key + ": " + flat(value) + " holds a value that is not a finite number");
      if (beyond_float(element.as<double>())) throw Error(key + ": " + flat(value) + " holds a value beyond float32's range");
    }
  if (spec.type == ValueType::kInt || spec.type == ValueType::kFloat) {
    // Integers are read as integers: YAML's 0x10 and 0o17 are integers that no double conversion reads.
    const double v = spec.type == ValueType::kInt ? static_cast<double>(value.as<int64_t>()) : value.as<double>();
    // NaN compares false with every bound, and no key takes an infinity.
    if (!std::isfinite(v)) throw Error(key + ": " + flat(value) + " is not a finite number");
    if (spec.type == ValueType::kFloat && beyond_float(v)) throw Error(key + ": " + flat(value) + " is beyond float32's range");
    if (v < spec.min || v > spec.max) {
      std::ostringstream range;
      range.precision(12);  // 1048576, not 1.04858e+06
      range << key << ": " << flat(value) << " is out of range, expected ";
      if (spec.max >= kInf) range << ">= " << spec.min;
      else range << "between " << spec.min << " and " << spec.max;
      throw Error(range.str());
    }
  }
}

}  // namespace

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
      throw Error(label + prefix + abbreviated(name) + ": unknown key" + did_you_mean(name, known));
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


YAML::Node Config::node(const std::string& dotted_key) const {
  // reset() moves the handle down the tree: assigning the child would write it into the tree, and a clone of
  // the whole tree per lookup made every read cost the config's size.
  YAML::Node current;
  current.reset(root_);
  std::stringstream parts(dotted_key);
  for (std::string part; std::getline(parts, part, '.');) {
    if (!current.IsMap() || !current[part]) throw Error("config has no key '" + dotted_key + "'");
    YAML::Node next = current[part];
    current.reset(next);
  }
  return current;
}

std::string Config::dump() const {
  YAML::Emitter out;
  out << root_;
  return std::string(out.c_str()) + "\n";
}

namespace {

// Values a config may hold once its aliases are expanded: real configs hold a few hundred; nested aliases
// (a "billion laughs" file of a few lines) expand exponentially, and every walk of the tree (the resume
// comparison, the dump) would hang on them.
constexpr int64_t kMaxConfigValues = 100000;

// Refuses duplicate keys (YAML keeps both; a lookup sees only the first) and alias bombs, naming them.
void check_config_tree(const YAML::Node& node, const std::string& path, const std::string& source, int64_t& budget) {
  if (--budget < 0)
    throw Error(source + ": more than " + std::to_string(kMaxConfigValues) +
                " values once YAML aliases are expanded (nested aliases?): refused");
  if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) check_config_tree(node[i], path + "[" + std::to_string(i) + "]", source, budget);
  } else if (node.IsMap()) {
    std::set<std::string> keys;
    for (const auto& entry : node) {
      const auto key = entry.first.IsScalar() ? entry.first.Scalar() : std::string("?");
      const auto dotted = path.empty() ? key : path + "." + key;
      if (!keys.insert(key).second)
        throw Error(source + ": key '" + dotted + "' appears twice in one map (YAML would silently use the first)");
      check_config_tree(entry.second, dotted, source, budget);
    }
  }
}

}  // namespace

YAML::Node parse_yaml_config(const std::string& text, const std::string& source) {
  try {
    auto root = YAML::Load(text);
    if (!root.IsMap()) throw Error(source + ": a config must be a map of sections (model, data, stages, ...)");
    int64_t budget = kMaxConfigValues;
    check_config_tree(root, "", source, budget);
    return root;
  } catch (const YAML::Exception& e) {
    throw Error(source + ": invalid YAML at line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

YAML::Node load_yaml_file(const std::filesystem::path& path) {
  return parse_yaml_config(read_file_text(path), path.string());
}

void apply_override(YAML::Node& root, const std::string& assignment) {
  const auto equals = assignment.find('=');
  if (equals == std::string::npos || equals == 0)
    throw Error("--set '" + abbreviated(assignment) + "': expected key=value, e.g. data.batch_size=128");
  const auto key = assignment.substr(0, equals);
  // An empty value parses as YAML null, which validation reads as "use the default": refuse it instead.
  if (equals + 1 == assignment.size())
    throw Error("--set " + key + "=: no value (leave the --set out to use the default; '' is the empty string)");
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

}  // namespace tervit
