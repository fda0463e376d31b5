#pragma once
// "Did you mean ...?" for unknown names (config keys, model names, quantizers).
#include <string>
#include <vector>

namespace tervit {

// Edit (Levenshtein) distance between two strings.
size_t edit_distance(const std::string& a, const std::string& b);

// The candidate closest to `name`, or "" when none is plausibly a typo of it.
std::string closest_match(const std::string& name, const std::vector<std::string>& candidates);

// " (did you mean 'x'?)" or "" — ready to append to an error message.
std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates);

}  // namespace tervit
