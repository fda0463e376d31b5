// libFuzzer target: YAML config validation as tervit-train runs it. The input is the config text; its
// lines "#--set key=value" (YAML comments) are applied as --set overrides. A config that validates must
// validate again from its resolved form, which is what a run folder records and resume compares.
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "tervit/engine/run_config.h"
#include "tervit/core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string resolved;
  try {
    auto root = tervit::parse_yaml_config(text, "input");
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);)
      if (line.rfind("#--set ", 0) == 0) tervit::apply_override(root, line.substr(7));
    resolved = tervit::engine::read_run_config(root).tree.dump();
  } catch (const tervit::Error&) {
    return 0;
  }
  tervit::engine::read_run_config(tervit::parse_yaml_config(resolved, "resolved config"));
  return 0;
}
