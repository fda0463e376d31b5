#pragma once
// Small string predicates shared across the library (C++17 has no std::string::ends_with).
#include <string>

namespace tervit {

inline bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace tervit
