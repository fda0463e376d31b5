#pragma once
// The one exception type of tervit: every error about outside input (files, configs, names, shapes)
// is thrown as tervit::Error with a message that names the offending thing. CLIs map it to exit code 2.
#include <stdexcept>
#include <string>

namespace tervit {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace tervit
