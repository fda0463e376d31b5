#pragma once
// Small string helpers shared across the library (C++17 has no std::string::ends_with).
#include <algorithm>
#include <cctype>
#include <string>

namespace tervit {

inline bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// ASCII letters in lower case (file extensions, library names).
inline std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// `text` cut to its first `max_chars` characters with the full length noted, for echoing outside input in
// an error: a 10 MB config value or path is named, not printed whole.
inline std::string abbreviated(const std::string& text, size_t max_chars = 120) {
  if (text.size() <= max_chars) return text;
  return text.substr(0, max_chars) + "... (" + std::to_string(text.size()) + " characters)";
}

}  // namespace tervit
