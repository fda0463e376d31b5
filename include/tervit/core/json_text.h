#pragma once
// JSON text for what the programs print, which may hold file paths: a Linux file name may hold any bytes,
// and bytes that are not UTF-8 become U+FFFD instead of nlohmann's type_error (which aborted a run
// half-way through its images).
#include <string>

namespace tervit {

template <typename Json>
std::string json_text(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace tervit
