#include "tervit/core/closest_match.h"

#include <algorithm>
#include <cstdint>
#include <numeric>

namespace tervit {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), size_t{0});
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string closest_match(const std::string& name, const std::vector<std::string>& candidates) {
  // A typo is a few edits away; a shortened or lengthened key contains the other one.
  const size_t typo_limit = std::max<size_t>(2, name.size() / 3);
  std::string best;
  size_t best_distance = SIZE_MAX;
  for (const auto& candidate : candidates) {
    const size_t d = edit_distance(name, candidate);
    const bool contains = name.size() >= 3 && (candidate.find(name) != std::string::npos || name.find(candidate) != std::string::npos);
    if ((d <= typo_limit || contains) && d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  return best;
}

std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates) {
  const auto match = closest_match(name, candidates);
  return match.empty() ? "" : " (did you mean '" + match + "'?)";
}

}  // namespace tervit
