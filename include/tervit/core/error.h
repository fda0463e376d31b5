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

// A message about one input (an image, a file) that names it: tervit's errors do already, a library's
// (OpenCV's, a failed allocation) do not, and get "`name`: " in front.
inline std::string naming(const std::string& name, const std::string& message) {
  return message.find(name) != std::string::npos ? message : name + ": " + message;
}

// Runs `body` and returns what it returns; a tervit::Error from it is thrown again with "`context`: " in
// front, for errors that name a value but not where it came from (the file, the config key).
template <typename Body>
auto with_context(const std::string& context, Body body) {
  try {
    return body();
  } catch (const Error& e) {
    throw Error(context + ": " + e.what());
  }
}

}  // namespace tervit
