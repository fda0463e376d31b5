#include "tervit/runtime/prediction.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <numeric>

#include "tervit/core/error.h"
#include "tervit/core/file_bytes.h"

namespace tervit::runtime {

Prediction prediction_from_logits(const float* logits, int64_t classes, int64_t k) {
  Prediction prediction;
  prediction.logits.assign(logits, logits + classes);
  // Softmax in double, shifted by the maximum so that no exp overflows.
  const double top = *std::max_element(logits, logits + classes);
  double total = 0;
  for (int64_t c = 0; c < classes; ++c) total += std::exp(logits[c] - top);
  std::vector<int64_t> order(static_cast<size_t>(classes));
  std::iota(order.begin(), order.end(), 0);
  const auto count = std::min(k, classes);
  std::partial_sort(order.begin(), order.begin() + count, order.end(),
                    [&](int64_t a, int64_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  for (int64_t i = 0; i < count; ++i) prediction.topk.emplace_back(order[i], std::exp(logits[order[i]] - top) / total);
  return prediction;
}

nlohmann::ordered_json prediction_json(const std::string& image, const Prediction& prediction,
                               const std::vector<std::string>& class_names) {
  nlohmann::ordered_json line;
  line["image"] = image;
  line["topk"] = nlohmann::ordered_json::array();
  for (const auto& [index, probability] : prediction.topk) line["topk"].push_back({index, probability});
  if (!class_names.empty()) {
    line["labels"] = nlohmann::ordered_json::array();
    for (const auto& entry : prediction.topk) line["labels"].push_back(class_names.at(entry.first));
  }
  line["logits"] = prediction.logits;
  return line;
}

std::vector<std::string> read_class_names_file(const std::filesystem::path& path, int64_t num_classes) {
  std::istringstream file(read_file_text(path));
  std::vector<std::string> names;
  for (std::string line; std::getline(file, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  if (static_cast<int64_t>(names.size()) != num_classes)
    throw Error(path.string() + ": " + std::to_string(names.size()) + " class names for a model of " +
                std::to_string(num_classes) + " classes");
  return names;
}

}  // namespace tervit::runtime
