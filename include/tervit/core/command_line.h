#pragma once
// One exit-code contract for every program's command line: CLI11's own codes (105-114) mean nothing to a
// script, so a bad command line exits kExitBadInput like any bad input, after CLI11's message.
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>

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

// A check that an option's value is a finite number within [min, max]: CLI::Range and PositiveNumber
// compare, and NaN passes every comparison (inf passes an open upper end).
inline CLI::Validator finite_in(double min, double max) {
  std::ostringstream bounds;
  bounds << "a finite number from " << min << " to " << max;
  const auto expected = bounds.str();
  return CLI::Validator(
      [min, max, expected](std::string& text) -> std::string {
        char* end = nullptr;
        const double value = std::strtod(text.c_str(), &end);
        if (end == text.c_str() || *end != '\0' || !std::isfinite(value) || value < min || value > max)
          return "'" + text + "' is not " + expected;
        return "";
      },
      "FINITE");
}

}  // namespace tervit
