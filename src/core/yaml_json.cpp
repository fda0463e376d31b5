#include "tervit/core/yaml_json.h"

namespace tervit {

namespace {

template <typename T>
bool parses_as(const YAML::Node& node, T& value) {
  try {
    value = node.as<T>();
    return true;
  } catch (const YAML::Exception&) {
    return false;
  }
}

}  // namespace

nlohmann::ordered_json yaml_to_json(const YAML::Node& node) {
  if (!node || node.IsNull()) return nullptr;
  if (node.IsSequence()) {
    auto array = nlohmann::ordered_json::array();
    for (const auto& item : node) array.push_back(yaml_to_json(item));
    return array;
  }
  if (node.IsMap()) {
    auto object = nlohmann::ordered_json::object();
    for (const auto& item : node) object[item.first.as<std::string>()] = yaml_to_json(item.second);
    return object;
  }
  // Quoted scalars stay strings ("'1'" is the string 1).
  if (node.Tag() == "!") return node.as<std::string>();
  int64_t integer = 0;
  double number = 0;
  bool boolean = false;
  if (parses_as(node, integer)) return integer;
  if (parses_as(node, number)) return number;
  if (parses_as(node, boolean)) return boolean;
  return node.as<std::string>();
}

}  // namespace tervit
