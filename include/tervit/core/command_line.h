#pragma once
// One exit-code contract for every program's command line: CLI11's own codes (105-114) mean nothing to a
// script, so a bad command line exits kExitBadInput like any bad input, after CLI11's message.
#include <CLI/CLI.hpp>

#include <optional>

#include "tervit/core/exit_codes.h"

namespace tervit {

// Parses argv into `app`: nullopt to go on, or the code to exit with (kExitOk after --help).
inline std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitBadInput;
  }
}

}  // namespace tervit
