#pragma once
// The names of an enum's values, as configs, metadata and command lines spell them: one table per enum
// parses, names and lists them, so that every unknown name is reported the same way (the key, the
// closest name, all of them).
#include <algorithm>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tervit/core/closest_match.h"
#include "tervit/core/error.h"

namespace tervit {

template <typename Enum>
class NameTable {
 public:
  NameTable(std::initializer_list<std::pair<std::string, Enum>> entries) : entries_(entries) {}

  // `what` names the value's place in errors: a config key ("data.interpolation"), a flag, a file.
  Enum parse(const std::string& name, const std::string& what) const {
    for (const auto& [entry_name, value] : entries_)
      if (entry_name == name) return value;
    throw Error(what + ": unknown value '" + name + "'" + did_you_mean(name, names()) + ", expected one of " + joined());
  }

  const std::string& name(Enum value) const {
    const auto entry = std::find_if(entries_.begin(), entries_.end(), [&](const auto& e) { return e.second == value; });
    if (entry == entries_.end()) throw std::logic_error("NameTable: a value without a name");
    return entry->first;
  }

  std::vector<std::string> names() const {
    std::vector<std::string> all;
    for (const auto& entry : entries_) all.push_back(entry.first);
    return all;
  }

  // "a, b, c": for help texts and errors.
  std::string joined() const {
    std::string text;
    for (const auto& entry : entries_) text += (text.empty() ? "" : ", ") + entry.first;
    return text;
  }

 private:
  std::vector<std::pair<std::string, Enum>> entries_;
};

}  // namespace tervit
